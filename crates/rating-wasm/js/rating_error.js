/**
 * An error from the rating engine: a bad price book, request, event or
 * argument. `code` is stable and machine-readable (the same codes as the
 * `rating` CLI), `path` is the JSON path of the offending field when there
 * is exactly one, and `errors` lists every problem found.
 */
export class RatingError extends Error {
  constructor(code, message, path, errors) {
    super(message);
    this.name = "RatingError";
    this.code = code;
    if (path !== undefined && path !== null) this.path = path;
    this.errors = errors ?? [];
  }
}
