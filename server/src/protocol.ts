// Custom messages between the Bitsmith language server and its client. Both sides
// import this file, so a change of shape is a compile error on both.
import { NotificationType, RequestType } from 'vscode-languageserver-protocol';

export interface BudgetParams {
  /** The recipe document's URI. */
  uri: string;
}

/** The whole-model figures the status bar shows; null when there is no plan (no model, or it cannot be read). */
export interface BudgetResult {
  uri: string;
  /** Document version the figures were computed for. */
  version: number;
  /** Bits per weight over every tensor of the model, kept ones at their source bits. */
  bpw: number;
  bytesIn: number;
  bytesOut: number;
  /** The budget statement, as bpw and bytes, when the recipe has one. */
  budgetBpw?: number;
  budgetBytes?: number;
  fits?: boolean;
  /** Tensors quantized, and tensors in the model. */
  quantized: number;
  tensors: number;
  /** Error diagnostics of the recipe: the figures are then provisional (a rule in error sets nothing). */
  errors: number;
}

export const BudgetRequest = new RequestType<BudgetParams, BudgetResult | null, void>('bitsmith/budget');

/** Sent after every (debounced) re-analysis of an open recipe, so a status bar can follow typing
 * without polling. `budget` is null when the recipe has no plan. */
export interface BudgetChangedParams {
  uri: string;
  budget: BudgetResult | null;
}
export const BudgetChangedNotification = new NotificationType<BudgetChangedParams>('bitsmith/budgetChanged');
