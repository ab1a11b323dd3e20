//! `Meter`: one customer's subscription, rated event by event (docs/contract.md §5-6).
//! The meter is plain data kept in the WebAssembly instance; `toJSON()`
//! exports it and `book.restoreMeter(state)` brings it back, for callers
//! that keep the state themselves.

use crate::convert::{amount_in, json_in, json_out, string_in, time_in, time_or_now};
use crate::error;
use crate::price_book::PriceBook;
use rating::error::{codes, Problem};
use rating::json::join;
use rating::meter::Receipt;
use rating::subscription::{self, Document, Mode, Request, View};
use serde_json::Value;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// One customer's subscription state: plan, period, seats, allowances,
/// wallet, usage so far and the dedup keys seen. Every method that takes
/// a time takes it as an RFC 3339 string or a `Date`; the meter never
/// reads a clock except where a method says it defaults to now.
#[wasm_bindgen]
pub struct Meter {
    book: Rc<rating::PriceBook>,
    meter: rating::meter::Meter,
}

#[wasm_bindgen]
impl PriceBook {
    /// Subscribes a customer to a plan and returns its meter: the first
    /// subscription request (docs/subscriptions.md), read and applied by
    /// the engine as the Worker's `PUT .../subscription` is. The first
    /// invoice (setup fee, one-time items, the first period's recurring and
    /// seat charges unless the plan starts with a free trial) is issued at
    /// `start`: take it with `closePeriod(start)` or `takeInvoices()`.
    pub fn meter(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "SubscriptionRequest | string",
            param_description = "`{customer, plan, start, anchor?, quantities?, addons?, cancel?, purchase_credits?, spend_alert_thresholds?}`"
        )]
        subscription: JsValue,
    ) -> Result<Meter, JsValue> {
        let value = json_in(&subscription, "the subscription")?;
        let doc = Document::read(&value).map_err(|e| error::to_js(&e))?;
        let meter = doc.subscribe(&self.book).map_err(|e| error::to_js(&e))?;
        Ok(Meter {
            book: Rc::clone(&self.book),
            meter,
        })
    }

    /// Restores a meter from the state `meter.toJSON()` exported (invoices
    /// not yet taken are not part of the state).
    #[wasm_bindgen(js_name = restoreMeter)]
    pub fn restore_meter(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "MeterState | string",
            param_description = "what `meter.toJSON()` returned, or its JSON text"
        )]
        state: JsValue,
    ) -> Result<Meter, JsValue> {
        let value = json_in(&state, "the meter state")?;
        let meter: rating::meter::Meter = serde_json::from_value(value).map_err(|e| {
            error::problem_to_js(Problem::general(
                codes::INVALID_VALUE,
                format!("not a meter state: {e}"),
            ))
        })?;
        Ok(Meter {
            book: Rc::clone(&self.book),
            meter,
        })
    }
}

#[wasm_bindgen]
impl Meter {
    /// Rates one usage event (a CloudEvent 1.0: `type` is the product,
    /// `subject` the customer, `data.quantity`/`data.amount` decimals)
    /// received at `at` (default: now). A bad event does not throw: its
    /// receipt says `rejected` with the `error`, and nothing changes (only
    /// text that is not JSON at all, or a bad `at`, throws). A duplicate
    /// (same `source` and `id`) repeats the first receipt's amount.
    #[wasm_bindgen(unchecked_return_type = "Receipt")]
    pub fn record(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "UsageEvent | string")] event: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "string | Date")] at: JsValue,
    ) -> Result<JsValue, JsValue> {
        let at = time_or_now(&at, "at")?;
        let value = json_in(&event, "the event")?;
        json_out(&self.record_value(&value, at))
    }

    /// What recording `event` at `at` (default: now) would do, without
    /// doing it: `would_be` (the receipt's status), the `error` it would
    /// get, the `receipt`, the `allowance` of its product and the
    /// `credits` left after it (docs/metering.md "Estimates"). Changes
    /// nothing: recording the same event next gives that receipt.
    #[wasm_bindgen(unchecked_return_type = "Estimate")]
    pub fn estimate(
        &self,
        #[wasm_bindgen(unchecked_param_type = "UsageEvent | string")] event: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "string | Date")] at: JsValue,
    ) -> Result<JsValue, JsValue> {
        let at = time_or_now(&at, "at")?;
        let value = json_in(&event, "the event")?;
        let estimate = match rating::meter::read_event_value(&value) {
            Ok(ev) => self.meter.estimate(&self.book, &ev, at).map_err(|e| error::to_js(&e))?,
            Err(rejected) => self.meter.estimate_unread(*rejected, at),
        };
        json_out(&estimate)
    }

    /// Rates a batch of events in order, one receipt per event.
    #[wasm_bindgen(js_name = recordBatch, unchecked_return_type = "Receipt[]")]
    pub fn record_batch(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "UsageEvent[] | string")] events: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "string | Date")] at: JsValue,
    ) -> Result<JsValue, JsValue> {
        let at = time_or_now(&at, "at")?;
        let value = json_in(&events, "the events")?;
        let Value::Array(list) = value else {
            return Err(error::problem_to_js(Problem::general(
                codes::INVALID_TYPE,
                "a batch is a JSON array of events",
            )));
        };
        let receipts: Vec<Receipt> = list.iter().map(|ev| self.record_value(ev, at)).collect();
        json_out(&receipts)
    }

    /// Applies a later subscription request at `at` (default: now), as the
    /// Worker's `PUT .../subscription` does (docs/subscriptions.md):
    /// another `plan` transitions (`transition`, default immediate),
    /// quantities that differ from those in force change (prorated), then
    /// `spend_alert_thresholds`, `purchase_credits` and `cancel`. All or
    /// nothing: a request that
    /// throws changes nothing. Returns the subscription as it now is;
    /// invoices it issued are taken with `takeInvoices()`.
    #[wasm_bindgen(unchecked_return_type = "SubscriptionView")]
    pub fn apply(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "SubscriptionChange | string")] request: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "string | Date")] at: JsValue,
    ) -> Result<JsValue, JsValue> {
        let at = time_or_now(&at, "at")?;
        let value = json_in(&request, "the subscription request")?;
        let req = Request::read(&value).map_err(|e| error::to_js(&e))?;
        subscription::change(&self.book, &mut self.meter, &req, at).map_err(|e| error::to_js(&e))?;
        self.subscription()
    }

    /// The subscription as it is: plan, add-ons, start, anchor, open
    /// period, quantities, pending period-end changes (the Worker's `GET
    /// .../subscription`).
    #[wasm_bindgen(unchecked_return_type = "SubscriptionView")]
    pub fn subscription(&self) -> Result<JsValue, JsValue> {
        json_out(&View::of(&self.meter, &self.book))
    }

    /// Changes a seat (or recurring) quantity at `at`; the difference for
    /// the rest of the period is prorated onto the next invoice.
    #[wasm_bindgen(js_name = changeQuantity)]
    pub fn change_quantity(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] product: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | number")] quantity: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | Date")] at: JsValue,
    ) -> Result<(), JsValue> {
        let product = string_in(&product, "product")?;
        let quantity = amount_in(&quantity, &join("quantities", &product))?;
        let at = time_in(&at, "at")?;
        self.meter
            .change_quantity(&self.book, &product, quantity, at)
            .map_err(|e| error::to_js(&e))
    }

    /// Moves the subscription to another base plan: `"immediate"` (default)
    /// bills usage so far on the old plan, credits the unused part of what
    /// was paid ahead, charges the rest of the period on the new plan and
    /// adds its allowance pro rata; `"period_end"` switches at the period end.
    #[wasm_bindgen(js_name = transitionPlan)]
    pub fn transition_plan(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] plan: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | Date")] at: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "\"immediate\" | \"period_end\"")] mode: JsValue,
    ) -> Result<(), JsValue> {
        let plan = string_in(&plan, "plan")?;
        let at = time_in(&at, "at")?;
        let immediate = mode_in(&mode, "transition", Mode::DEFAULT_TRANSITION)?;
        self.meter
            .transition_plan(&self.book, &plan, at, immediate)
            .map_err(|e| error::to_js(&e))
    }

    /// Cancels: `"immediate"` issues a final invoice at `at` (usage so far
    /// and a credit for the unused part of what was paid ahead);
    /// `"period_end"` (default) stops renewing at the end of the period.
    pub fn cancel(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string | Date")] at: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "\"immediate\" | \"period_end\"")] mode: JsValue,
    ) -> Result<(), JsValue> {
        let at = time_in(&at, "at")?;
        let immediate = mode_in(&mode, "cancel", Mode::DEFAULT_CANCEL)?;
        self.meter
            .cancel(&self.book, at, immediate)
            .map_err(|e| error::to_js(&e))
    }

    /// Buys a credit pack at `at`: its credits (and bonus) go to the
    /// wallet and its price onto an invoice issued at `at`.
    #[wasm_bindgen(js_name = purchaseCredits)]
    pub fn purchase_credits(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] pack: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | Date")] at: JsValue,
    ) -> Result<(), JsValue> {
        let pack = string_in(&pack, "pack")?;
        let at = time_in(&at, "at")?;
        self.meter
            .purchase_credits(&self.book, &pack, at)
            .map_err(|e| error::to_js(&e))
    }

    /// Allowance state per metered dimension at `at`: `included`,
    /// `rolled_over`, `used`, `remaining`, `billable_usage`,
    /// `overage_amount`, `percent_used`. Changes nothing.
    #[wasm_bindgen(js_name = allowanceState, unchecked_return_type = "AllowanceState")]
    pub fn allowance_state(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | Date")] at: JsValue,
    ) -> Result<JsValue, JsValue> {
        let at = time_in(&at, "at")?;
        let state = self
            .meter
            .allowance_state(&self.book, at)
            .map_err(|e| error::to_js(&e))?;
        json_out(&state)
    }

    /// The invoice the open period would get if it closed at `at` (usage so
    /// far and pending prorations). Changes nothing.
    #[wasm_bindgen(js_name = previewInvoice, unchecked_return_type = "Invoice")]
    pub fn preview_invoice(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | Date")] at: JsValue,
    ) -> Result<JsValue, JsValue> {
        let at = time_in(&at, "at")?;
        let invoice = self
            .meter
            .preview_invoice(&self.book, at)
            .map_err(|e| error::to_js(&e))?;
        json_out(&invoice)
    }

    /// The open period's usage projected linearly to its end, priced.
    /// Changes nothing.
    #[wasm_bindgen(unchecked_return_type = "Forecast")]
    pub fn forecast(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | Date")] at: JsValue,
    ) -> Result<JsValue, JsValue> {
        let at = time_in(&at, "at")?;
        let forecast = self.meter.forecast(&self.book, at).map_err(|e| error::to_js(&e))?;
        json_out(&forecast)
    }

    /// Closes every period that ends at or before `at` and returns every
    /// invoice issued since the last call, in order: the subscription's
    /// first invoice, each closed period's (usage in arrears, the next
    /// period's recurring and seat charges in advance, rollover applied),
    /// and those of immediate cancellations, transitions and credit
    /// purchases. Empty when nothing was issued.
    #[wasm_bindgen(js_name = closePeriod, unchecked_return_type = "Invoice[]")]
    pub fn close_period(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string | Date")] at: JsValue,
    ) -> Result<JsValue, JsValue> {
        let at = time_in(&at, "at")?;
        self.meter.advance_to(&self.book, at).map_err(|e| error::to_js(&e))?;
        json_out(&self.meter.take_invoices())
    }

    /// Every invoice issued since the last call (without closing anything).
    #[wasm_bindgen(js_name = takeInvoices, unchecked_return_type = "Invoice[]")]
    pub fn take_invoices(&mut self) -> Result<JsValue, JsValue> {
        json_out(&self.meter.take_invoices())
    }

    /// The records made since the last call, in order: every notable
    /// change (`invoice.issued`, `allowance.threshold_reached`,
    /// `spend.threshold_reached`, `credits.low_balance`, ...), each naming
    /// the customer, the time and the event that caused it, where one did
    /// (docs/metering.md "Records"). For webhooks and analytics.
    #[wasm_bindgen(js_name = takeRecords, unchecked_return_type = "MeterRecord[]")]
    pub fn take_records(&mut self) -> Result<JsValue, JsValue> {
        json_out(&self.meter.take_records())
    }

    /// The customer id.
    #[wasm_bindgen(getter)]
    pub fn customer(&self) -> String {
        self.meter.customer.clone()
    }

    /// The current base plan id.
    #[wasm_bindgen(getter)]
    pub fn plan(&self) -> String {
        self.meter.plan.clone()
    }

    /// When the subscription ended (an immediate cancellation, or the end
    /// of the period it was cancelled at), as RFC 3339; `undefined` while
    /// it runs.
    #[wasm_bindgen(getter, js_name = endedAt)]
    pub fn ended_at(&self) -> Option<String> {
        self.meter.ended_at.map(rating::period::fmt_timestamp)
    }

    /// The meter's state as JSON, for `book.restoreMeter(state)`
    /// (`JSON.stringify(meter)` uses it). Invoices not yet taken are not
    /// part of it.
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "MeterState")]
    pub fn to_json(&self) -> Result<JsValue, JsValue> {
        json_out(&self.meter)
    }
}

impl Meter {
    /// Validates and rates one event value; a bad event is a rejected receipt.
    fn record_value(&mut self, value: &Value, at: rating::period::Timestamp) -> Receipt {
        match rating::meter::read_event_value(value) {
            Ok(ev) => self.meter.record(&self.book, &ev, at),
            Err(rejected) => *rejected,
        }
    }
}

/// A mode (`"immediate"`, `"period_end"`) as the engine reads it; absent:
/// `default`. Answers whether it is immediate.
fn mode_in(v: &JsValue, path: &str, default: Mode) -> Result<bool, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(default.is_immediate());
    }
    let text = v.as_string().unwrap_or_default();
    Mode::parse_at(&text, path)
        .map(Mode::is_immediate)
        .map_err(error::problem_to_js)
}
