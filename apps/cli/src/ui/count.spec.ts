import { count } from './count';

describe('count', () => {
  it('says one thing in the singular and any other number in the plural', () => {
    expect([count(0, 'file'), count(1, 'file'), count(2, 'file'), count(1, 'byte')]).toEqual(['0 files', '1 file', '2 files', '1 byte']);
  });
});
