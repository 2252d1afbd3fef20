/** A random decimal amount string with `decimals` places between 0 and `wholeMax` (exclusive). */
export function randomAmount(random: () => number, wholeMax: number, decimals: number): string {
  const whole = Math.floor(random() * wholeMax);
  const fraction = Array.from({ length: decimals }, () => Math.floor(random() * 10)).join('');
  return decimals === 0 ? String(whole) : `${whole}.${fraction}`;
}
