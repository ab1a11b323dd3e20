// Types of `rating-engine/calculator`: the <rating-calculator> custom
// element (docs/calculator.md in the repository).
import type { Quote, QuoteRequest, Problem } from "./quote.js";

/** The `quote-change` event's detail: what the calculator shows now. */
export interface QuoteChangeDetail {
  /** Each shown plan that could be quoted for the inputs, by plan id: the engine's quote. */
  quotes: { [plan: string]: Quote };
  /** Each shown plan that could not, by plan id: why (a usage the plan
   * does not offer, a limit, a currency it has no price in). */
  errors: { [plan: string]: Problem };
  /** The plan with the lowest total (book order breaks ties), or null. */
  cheapest: string | null;
  /** The plan whose lines are shown. */
  selected?: string;
  /** The currency quoted. */
  currency?: string;
  /** Periods paid ahead (1, or the `periods` of an advance discount). */
  periods?: number;
  /** The request each plan was quoted with (the same request gives the same
   * quote from `POST /v1/quote` or `rating quote`). */
  requests?: { [plan: string]: QuoteRequest };
  /** Set instead when the price book itself cannot be priced. */
  problems?: Problem[];
}

/**
 * `<rating-calculator>`: a pricing page for a price book. Attributes
 * (each also a property of the same name):
 * - `book`: URL of the price book; without it, the JSON in a child
 *   `<script type="application/json">` (or the `bookData` property);
 * - `plans`: base plan ids to show, in order (space or comma separated;
 *   default every base plan in book order);
 * - `currency`: currency to quote in (the book's or one of its
 *   `currency_options`; default the book's);
 * - `locale`: BCP 47 locale for numbers and money (default the page's `lang`);
 * - `period`: `1` or the `periods` of an advance discount ("pay yearly").
 *
 * Theming: CSS custom properties `--rating-accent`, `--rating-accent-ink`,
 * `--rating-bg`, `--rating-fg`, `--rating-muted`, `--rating-line`,
 * `--rating-panel`, `--rating-error`, `--rating-radius`, `--rating-font`,
 * `--rating-series-1` … `--rating-series-6`; parts `calculator`, `inputs`,
 * `slider`, `input`, `addons`, `addon`, `currency`, `period`, `card`,
 * `cheapest`, `badge`, `price`, `features`, `chart`, `breakdown`, `error`.
 */
export class RatingCalculator extends HTMLElement {
  static readonly observedAttributes: string[];
  /** The `book` attribute: URL of the price book. */
  book: string | null;
  /** The price book itself, as JSON text or an object (instead of `book`). */
  bookData: string | object | null;
  /** The `plans` attribute. */
  plans: string | null;
  /** The currency quoted (the attribute, or the visitor's choice). */
  currency: string | null;
  /** The `locale` attribute. */
  locale: string | null;
  /** Periods paid ahead: `"1"` or an advance discount's `periods`. */
  period: string;
  /** Resolves once the first prices (or the book's problems) are shown. */
  readonly ready: Promise<void>;
  /** The last `quote-change` detail, or null before the first. */
  readonly quotes: QuoteChangeDetail | null;
  /** How many times the prices were recomputed. */
  readonly renders: number;

  addEventListener<K extends keyof RatingCalculatorEventMap>(
    type: K,
    listener: (this: RatingCalculator, ev: RatingCalculatorEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof RatingCalculatorEventMap>(
    type: K,
    listener: (this: RatingCalculator, ev: RatingCalculatorEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions): void;
}

/** Events of <rating-calculator>. */
export interface RatingCalculatorEventMap extends HTMLElementEventMap {
  /** The quotes changed (inputs, add-ons, currency, period or book). */
  "quote-change": CustomEvent<QuoteChangeDetail>;
}

/** Exact comparison of two decimal strings: -1, 0 or 1. */
export function compareDecimals(a: string, b: string): -1 | 0 | 1;

declare global {
  interface HTMLElementTagNameMap {
    "rating-calculator": RatingCalculator;
  }
  interface HTMLElementEventMap {
    "quote-change": CustomEvent<QuoteChangeDetail>;
  }
}
