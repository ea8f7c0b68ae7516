import { Wakeup } from '@lienthong/sync-engine';

/** Nudges between this process's loops: committed events wake the dispatcher, outcomes the relay. */
export class SyncSignals {
  readonly dispatch = new Wakeup();
  readonly relay = new Wakeup();
}
