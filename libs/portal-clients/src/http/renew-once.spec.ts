import { PortalCallError } from '@lienthong/resilience';
import { withRenewal } from './renew-once';
import { TokenCache } from './token-cache';

const expired = () =>
  new PortalCallError('PORTAL_SESSION_EXPIRED', 'session ended', { httpStatus: 401 });

describe('withRenewal', () => {
  const tokens = () => {
    let n = 0;
    return new TokenCache(() => Promise.resolve({ token: `t${++n}`, expiresInSeconds: 3600 }));
  };

  it('renews a session the portal ended early and runs the call once more', async () => {
    const used: string[] = [];
    const result = await withRenewal(tokens(), (token) => {
      used.push(token);
      return token === 't1' ? Promise.reject(expired()) : Promise.resolve('ok');
    });
    expect({ result, used }).toEqual({ result: 'ok', used: ['t1', 't2'] });
  });

  it('a fresh session refused at once is unrenewable: a hold of the target, not an entity failure', async () => {
    const used: string[] = [];
    const error = await withRenewal(tokens(), (token) => {
      used.push(token);
      return Promise.reject(expired());
    }).catch((e: unknown) => e);
    expect(used).toEqual(['t1', 't2']);
    expect(error).toMatchObject({
      code: 'PORTAL_SESSION_UNRENEWABLE',
      outcome: 'hold',
      httpStatus: 401,
    });
  });

  it('passes any other failure through untouched, without renewing', async () => {
    const used: string[] = [];
    const rejected = new PortalCallError('PORTAL_REJECTED', 'no', { portalCode: '02' });
    await expect(
      withRenewal(tokens(), (token) => {
        used.push(token);
        return Promise.reject(rejected);
      }),
    ).rejects.toBe(rejected);
    expect(used).toEqual(['t1']);
  });
});
