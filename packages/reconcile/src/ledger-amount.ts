/**
 * Amounts the reconciler hands to the ledger. The report and the reconciler's own tables hold
 * amounts with up to 18 decimals. A currency may have fewer in the ledger (`currencyScales`, say
 * ETH at 8), and `Ledger.parseAmount` refuses input text with more decimals than that, zeros
 * included. Until this module, the sync and the confirmation of an instruction padded every
 * amount to 18 decimals first, so a ledger with ETH at 8 refused even "0.5" ETH and rejected the
 * whole report; repairing a missing booking passed the report's text as written, so a report that
 * writes "0.500000000000000000" ETH could not be repaired.
 */
import { formatAtScale, toUnits } from '@earnbook/ledger';
import type { Amount, Ledger } from '@earnbook/ledger';

/**
 * `amount` (a decimal of up to 18 places) written with the currency's decimals when its value fits
 * them ("0.500000000000000000" ETH at 8: "0.50000000"), else with 18, for the ledger to refuse,
 * typed (`formatAtScale`). This is the input form of the ledger's parsing APIs
 * (`EarnBooks.recordDeposit` and the like).
 */
export function atCurrencyScale(ledger: Ledger, amount: string, currency: string): string {
  return formatAtScale(toUnits(amount), ledger.currencyScale(currency));
}

/**
 * `amount` as a posting's entry or line takes it, canonical at 18 decimals. Zeros past the
 * currency's scale are not precision; a digit past it is refused by the ledger with its typed
 * `invalid_amount` naming `amount`, as before.
 */
export function ledgerAmount(ledger: Ledger, amount: string, currency: string): Amount {
  return ledger.parseAmount(atCurrencyScale(ledger, amount, currency), { field: 'amount', currency });
}
