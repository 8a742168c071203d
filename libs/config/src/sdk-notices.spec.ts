import { isSdkNodeVersionNotice } from './sdk-notices';

describe('isSdkNodeVersionNotice', () => {
  const text =
    'The AWS SDK for JavaScript (v3)\nversions published after the first week of January 2027\nwill require node >=22.';

  it('knows the notice as the SDK emits it: a message with the type as a string', () => {
    expect(isSdkNodeVersionNotice(`NodeVersionSupportWarning: ${text}`, undefined)).toBe(true);
    expect(isSdkNodeVersionNotice('anything', 'NodeVersionSupportWarning')).toBe(true);
  });

  it('knows it as an Error or with the type in an options object', () => {
    const e = Object.assign(new Error('later'), { name: 'NodeVersionSupportWarning' });
    expect(isSdkNodeVersionNotice(e, undefined)).toBe(true);
    expect(isSdkNodeVersionNotice('later', { type: 'NodeVersionSupportWarning' })).toBe(true);
  });

  it('lets every other warning through', () => {
    expect(isSdkNodeVersionNotice('Buffer() is deprecated', 'DeprecationWarning')).toBe(false);
    expect(isSdkNodeVersionNotice(new Error('Possible EventEmitter memory leak'), undefined)).toBe(false);
    expect(isSdkNodeVersionNotice('will require node >=20', { type: 'Warning' })).toBe(false);
  });
});
