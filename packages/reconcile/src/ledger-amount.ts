/**
 * Amounts the reconciler hands to the ledger. The report and the reconciler's own tables hold
 * amounts with up to 18 decimals. A currency may have fewer in the ledger (`currencyScales`, say
 * ETH at 8), and `Ledger.parseAmount` refuses input text with more decimals than that, zeros
 * included. Until this module, the sync and the confirmation of an instruction padded every
 * amount to 18 decimals first, so a ledger with ETH at 8 refused even "0.5" ETH and rejected the
 * whole report.
 */
import { AMOUNT_SCALE_DEFAULT, formatUnits, toUnits } from '@earnbook/ledger';
import type { Amount, Ledger } from '@earnbook/ledger';

/**
 * `amount` (a decimal of up to 18 places) as the ledger takes it for `currency`. Zeros past the
 * currency's scale are not precision: "0.500000000000000000" is 0.5 ETH at 8 decimals. A digit
 * past the scale is refused by the ledger with its typed `invalid_amount` naming `amount`, as
 * before.
 */
export function ledgerAmount(ledger: Ledger, amount: string, currency: string): Amount {
  const units = toUnits(amount);
  const scale = ledger.currencyScale(currency);
  const factor = 10n ** BigInt(AMOUNT_SCALE_DEFAULT - scale);
  const text = units % factor === 0n ? formatUnits(units / factor, scale) : amount;
  return ledger.parseAmount(text, { field: 'amount', currency });
}
