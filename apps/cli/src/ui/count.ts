/** `n` and the noun, plural unless `n` is 1: "1 file", "3 files", "0 bytes". */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
