// The price book playground: the book in the textarea is checked by the
// whole engine build (PriceBook.parse: every problem with its JSON path,
// docs/errors.md) as you type, and the calculator beside it prices the
// last valid version (docs/calculator.md).
import init, { PriceBook, RatingError } from "../../pkg-web/rating_wasm.js";
import "../../calculator.js";

const source = document.getElementById("source");
const status = document.getElementById("status");
const problems = document.getElementById("problems");
const calculator = document.getElementById("calculator");

const ready = init();
if (!source.value.trim()) {
  const response = await fetch(new URL(source.dataset.book, document.baseURI));
  source.value = await response.text();
}
await ready;

/** Where a JSON path (`plans[0].items[2].price`) starts in the text, found
 * by walking the document with a small tokenizer: for selecting the field. */
function locate(text, path) {
  const want = [...path.matchAll(/([^.[\]"]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g)].map((m) => m[2] !== undefined ? Number(m[2]) : (m[1] ?? m[3]));
  let i = 0;
  const ws = () => { while (/\s/.test(text[i] ?? "")) i++; };
  const str = () => { const start = i++; while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1; i++; return JSON.parse(text.slice(start, i)); };
  const skip = () => {
    ws();
    const c = text[i];
    if (c === '"') return str();
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      i++;
      for (ws(); text[i] !== close && i < text.length; ws()) {
        if (c === "{") { str(); ws(); i++; }
        skip(); ws();
        if (text[i] === ",") i++;
      }
      i++;
      return;
    }
    while (i < text.length && !/[\s,}\]]/.test(text[i])) i++;
  };
  for (const [n, step] of want.entries()) {
    ws();
    if (typeof step === "number" && text[i] === "[") {
      i++;
      for (let k = 0; k < step; k++) { skip(); ws(); if (text[i] === ",") i++; }
      ws();
    } else if (typeof step === "string" && text[i] === "{") {
      i++;
      let found = false;
      for (ws(); text[i] === '"'; ws()) {
        const keyAt = i;
        const key = str();
        ws(); i++; // the colon
        if (key === step) {
          if (n === want.length - 1) return keyAt; // a field: select its name
          found = true;
          break;
        }
        skip(); ws();
        if (text[i] === ",") i++;
      }
      if (!found) return null;
    } else return null;
  }
  ws();
  return i;
}

function check() {
  const text = source.value;
  let book;
  try {
    book = PriceBook.parse(text);
  } catch (e) {
    if (!(e instanceof RatingError)) throw e;
    const list = e.errors?.length ? e.errors : [{ code: e.code, message: e.message, path: e.path }];
    status.textContent = `${list.length} problem${list.length === 1 ? "" : "s"}: the calculator shows the last valid book`;
    problems.replaceChildren(...list.map((p) => {
      const li = document.createElement("li");
      li.dataset.path = p.path ?? "";
      li.dataset.code = p.code;
      if (p.path) {
        const go = document.createElement("button");
        go.type = "button";
        go.innerHTML = `<code></code>`;
        go.firstChild.textContent = p.path;
        go.title = "Select this field in the editor";
        go.addEventListener("click", () => {
          const at = locate(text, p.path);
          source.focus();
          if (at !== null) source.setSelectionRange(at, at);
        });
        li.append(go, `: ${p.message}`);
      } else li.textContent = p.message;
      return li;
    }));
    source.setAttribute("aria-invalid", "true");
    return;
  }
  source.removeAttribute("aria-invalid");
  status.textContent = `Valid: ${book.toJSON().plans.length} plans, ${book.hash.slice(0, 19)}…`;
  problems.replaceChildren();
  book.free();
  calculator.bookData = text;
}

let timer;
source.addEventListener("input", () => {
  clearTimeout(timer);
  timer = setTimeout(check, 120);
});
check();
