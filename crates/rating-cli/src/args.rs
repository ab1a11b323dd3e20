//! Command-line arguments and help text (clap derive).
//!
//! `replay` and `diff` (docs/contract.md §9) will be added here as further
//! `Command` variants, with their handlers in `commands/`.

use crate::input::Input;
use clap::{CommandFactory, Parser, Subcommand};

const ABOUT: &str = "Exact-to-the-cent pricing: check price books, quote plans, compare plans.";

const LONG_ABOUT: &str = "\
Exact-to-the-cent pricing: check price books, quote plans, compare plans.

Every command reads JSON files and prints one JSON document on stdout
(2-space indented). Use `-` instead of a file name to read that file from
stdin (at most one argument may be `-`).

On failure the command prints {\"error\": {\"code\", \"message\", \"path\"?,
\"errors\"?, \"file\"?}} on stderr and exits 1: `code` is a stable machine
code, `path` the JSON path of the offending field, `errors` every problem
found, `file` the argument the error is about. Usage errors exit 2.

Start with `rating check --help`.";

const AFTER_HELP: &str = "\
Examples:
  rating check examples/hybrid.json
  rating quote examples/hybrid.json examples/quote-starter.json
  rating compare examples/hybrid.json examples/compare-usage.json";

const CHECK_LONG: &str = "\
Validate a price book and print a summary of it.

BOOK is a price book: one JSON document in the `price-book/v1` format with a
seller's products, plans, credit packs and customer overrides (its JSON
Schema is schema/price-book.v1.json).
The book is read strictly: an unknown field, an unknown product, tiers out
of order and the like are errors, and every problem is listed at once,
each with the JSON path of the field (plans[0].items[2].price.tiers[1].up_to).

On success prints the book's id, its canonical hash (the `price_book`
stamp on every quote) and how many entries it has:
  {\"ok\": true, \"id\": \"acme\", \"price_book\": \"sha256:...\",
   \"products\": 1, \"plans\": 1, \"credit_packs\": 0, \"overrides\": 0}";

const CHECK_AFTER: &str = "\
A minimal price book (book.json):
  {\"format\": \"price-book/v1\", \"id\": \"acme\", \"currency\": \"USD\",
   \"products\": [{\"id\": \"platform\", \"name\": \"Platform fee\", \"type\": \"recurring\"}],
   \"plans\": [{\"id\": \"basic\", \"name\": \"Basic\", \"period\": {\"unit\": \"month\", \"length\": 1},
              \"items\": [{\"product\": \"platform\",
                         \"price\": {\"model\": \"flat\", \"amount\": \"20.00\"}}]}]}

Examples:
  rating check book.json
  cat book.json | rating check -";

const QUOTE_LONG: &str = "\
Price one period of a plan (and its add-ons) for given quantities and usage.

BOOK is a `price-book/v1` price book (see `rating check --help`).
REQUEST is a JSON object naming the plan and what the customer uses:
  plan           id of a base plan in the book (required)
  quantities     seats, recurring and one-time products: {\"seats\": \"5\"}
  usage          metered products: {\"bandwidth\": \"1200\"}, keyed ones by
                 price key {\"domain\": {\".com\": \"3\"}}, amount-based ones
                 {\"sales\": {\"amounts\": [\"25\", \"100\"]}}
  addons, currency, customer, at, periods, include_setup   (optional)
Numbers may be strings or JSON numbers; both are read exactly.

Prints the quote: {\"currency\", \"plan\", \"period\", \"lines\": [...],
\"subtotal\", \"discount\", \"total\", \"price_book\"}, every line with its
quantity, allowance, tiers and amount. The exact format is docs/quote.md.";

const QUOTE_AFTER: &str = "\
A request (request.json) for the book in `rating check --help`:
  {\"plan\": \"basic\"}
and with seats and usage, for a book whose plan has them:
  {\"plan\": \"pro\", \"quantities\": {\"seats\": \"5\"}, \"usage\": {\"bandwidth\": \"1200\"}}

Examples:
  rating quote book.json request.json
  echo '{\"plan\": \"basic\"}' | rating quote book.json -";

const COMPARE_LONG: &str = "\
Price the same usage on every base plan of a book, cheapest first.

BOOK is a `price-book/v1` price book (see `rating check --help`).
USAGE is a quote request without `plan` (see `rating quote --help`):
quantities, usage and the optional currency, customer, at, periods,
include_setup.

Prints {\"currency\", \"plans\": [{\"plan\", \"name\", \"total\"} ...],
\"cheapest\", \"price_book\"}. Plans the usage cannot be priced on (a seat
count below a plan's minimum, say) come last, each with its \"error\".
The exact format is docs/quote.md.";

const COMPARE_AFTER: &str = "\
A usage file (usage.json) for a book with seat and bandwidth products:
  {\"quantities\": {\"seats\": \"5\"}, \"usage\": {\"bandwidth\": \"1200\"}}

Examples:
  rating compare book.json usage.json
  echo '{}' | rating compare book.json -";

/// The `rating` command line.
#[derive(Debug, Parser)]
#[command(name = "rating", version, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a price book and print its id, hash and size.
    #[command(long_about = CHECK_LONG, after_help = CHECK_AFTER)]
    Check {
        /// Price book file (`price-book/v1` JSON), or `-` for stdin.
        #[arg(value_name = "BOOK")]
        book: Input,
    },
    /// Quote a plan for given quantities and usage.
    #[command(long_about = QUOTE_LONG, after_help = QUOTE_AFTER)]
    Quote {
        /// Price book file (`price-book/v1` JSON), or `-` for stdin.
        #[arg(value_name = "BOOK")]
        book: Input,
        /// Quote request file (JSON), or `-` for stdin.
        #[arg(value_name = "REQUEST")]
        request: Input,
    },
    /// Compare every base plan's total for the same usage, cheapest first.
    #[command(long_about = COMPARE_LONG, after_help = COMPARE_AFTER)]
    Compare {
        /// Price book file (`price-book/v1` JSON), or `-` for stdin.
        #[arg(value_name = "BOOK")]
        book: Input,
        /// Usage file (a quote request without `plan`, JSON), or `-` for stdin.
        #[arg(value_name = "USAGE")]
        usage: Input,
    },
    /// Replay exported usage events through one meter per customer and print the invoices.
    #[command(long_about = REPLAY_LONG, after_help = REPLAY_AFTER)]
    Replay {
        /// Price book file (`price-book/v1` JSON), or `-` for stdin.
        #[arg(value_name = "BOOK")]
        book: Input,
        /// Usage events, one CloudEvent JSON per line (NDJSON), or `-` for stdin.
        #[arg(value_name = "EVENTS.ndjson")]
        events: Input,
        /// Subscriptions file (JSON list), or `-` for stdin.
        #[arg(long, value_name = "SUBS.json")]
        subscriptions: Input,
        /// Replay up to this time (RFC 3339): periods ending by then are closed.
        #[arg(long, value_name = "TIME")]
        at: String,
        /// Also write every receipt, one JSON per line, to this file.
        #[arg(long, value_name = "FILE")]
        receipts: Option<std::path::PathBuf>,
    },
    /// Replay the same usage under two price books and print each customer's difference.
    #[command(long_about = DIFF_LONG, after_help = DIFF_AFTER)]
    Diff {
        /// Today's price book.
        #[arg(value_name = "OLD_BOOK")]
        old_book: Input,
        /// The proposed price book.
        #[arg(value_name = "NEW_BOOK")]
        new_book: Input,
        /// Usage events (NDJSON), or `-` for stdin.
        #[arg(value_name = "EVENTS.ndjson")]
        events: Input,
        /// Subscriptions file (JSON list).
        #[arg(long, value_name = "SUBS.json")]
        subscriptions: Input,
        /// Replay up to this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        at: String,
    },
}

const REPLAY_LONG: &str = "\
Replay exported usage: every event of EVENTS.ndjson (one CloudEvent per
line: {\"specversion\": \"1.0\", \"id\", \"source\", \"type\": product,
\"subject\": customer, \"time\", \"data\": {\"quantity\"...}}) is rated, in file
order, by the meter of its customer. SUBS.json lists the subscriptions:
  [{\"customer\": \"cus_1\", \"plan\": \"pro\", \"start\": \"2026-01-01T00:00:00Z\",
    \"anchor\"?, \"quantities\"?: {\"seats\": \"5\"}, \"addons\"?,
    \"spend_alert_thresholds\"?,
    \"changes\"?: [{\"at\", \"quantities\"?, \"plan\"?, \"transition\"?,
                  \"cancel\"?, \"purchase_credits\"?,
                  \"spend_alert_thresholds\"?}]}]
Changes apply at their time, interleaved with the events. Every period
that ends at or before --at is closed and invoiced.

EVENTS may be gzip-compressed, or a directory: its .ndjson and .ndjson.gz
files are read in name order (an export of the event log). A line with a
`ratingreceived` attribute (a log line) is rated at that receipt time.

Prints {\"customers\": [{\"customer\", \"invoices\": [...], \"open_period\",
\"records\": [...]}], \"totals\", \"receipts\": {\"accepted\", \"duplicate\",
\"rejected\", \"dropped\"}}. A customer's records are the notable changes
up to --at, in order: invoice.issued, allowance.threshold_reached,
spend.threshold_reached, subscription.plan_changed, credits.low_balance...
Events are streamed: memory grows with customers, not with events.";

const REPLAY_AFTER: &str = "\
Examples:
  rating replay examples/paas.json examples/events.ndjson --subscriptions examples/subscriptions.json --at 2026-04-01T00:00:00Z
  rating replay book.json export.ndjson.gz --subscriptions subs.json --at 2026-12-01T00:00:00Z
  rating replay book.json log/ --subscriptions subs.json --at 2026-12-01T00:00:00Z";

const DIFF_LONG: &str = "\
Replay the same events and subscriptions under OLD_BOOK and NEW_BOOK (see
`rating replay --help` for the files) and print, per customer, the total
under each book and the difference (new - old), plus the sums: what a
proposed price change would have done to every customer.";

const DIFF_AFTER: &str = "\
Example:
  rating diff today.json proposed.json events.ndjson --subscriptions subs.json --at 2026-04-01T00:00:00Z";

impl Command {
    /// The subcommand's name, as typed.
    fn name(&self) -> &'static str {
        match self {
            Command::Check { .. } => "check",
            Command::Quote { .. } => "quote",
            Command::Compare { .. } => "compare",
            Command::Replay { .. } => "replay",
            Command::Diff { .. } => "diff",
        }
    }

    /// The file arguments, in order.
    fn inputs(&self) -> Vec<&Input> {
        match self {
            Command::Check { book } => vec![book],
            Command::Quote { book, request } => vec![book, request],
            Command::Compare { book, usage } => vec![book, usage],
            Command::Replay {
                book,
                events,
                subscriptions,
                ..
            } => vec![book, events, subscriptions],
            Command::Diff {
                old_book,
                new_book,
                events,
                subscriptions,
                ..
            } => vec![old_book, new_book, events, subscriptions],
        }
    }

    /// Stdin can be read only once: more than one `-` is a usage error.
    pub fn check_stdin_once(&self) -> Result<(), clap::Error> {
        if self.inputs().iter().filter(|i| i.is_stdin()).count() > 1 {
            let mut cmd = Cli::command();
            cmd.build();
            let cmd = match cmd.find_subcommand_mut(self.name()) {
                Some(sub) => sub,
                None => &mut cmd,
            };
            return Err(cmd.error(
                clap::error::ErrorKind::ArgumentConflict,
                "only one argument may be `-` (stdin can be read once)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
