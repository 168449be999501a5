import { checked, pick, pickNth } from "./choice.js";

const criteria = (el) => [...el.querySelectorAll(".criterion")];
const nameOf = (el, c) => `q-${el.dataset.question}-${c.dataset.criterion}`;

export function read(el) {
  const out = {};
  for (const c of criteria(el)) {
    const v = checked(c, nameOf(el, c))?.value;
    if (v !== undefined) out[c.dataset.criterion] = Number(v);
  }
  return Object.keys(out).length ? out : undefined;
}
export function write(el, value) {
  for (const c of criteria(el)) pick(c, nameOf(el, c), value?.[c.dataset.criterion]);
}
// A digit scores the criterion holding focus (else the first without a score), then focus
// moves to the next criterion, so a rubric is scored by typing its digits in a row.
export function digit(el, n) {
  const all = criteria(el);
  const c =
    all.find((x) => x.contains(document.activeElement)) ??
    all.find((x) => !checked(x, nameOf(el, x))) ??
    all[all.length - 1];
  if (!c || !pickNth(c, nameOf(el, c), n)) return false;
  const next = all[all.indexOf(c) + 1];
  if (next) (checked(next, nameOf(el, next)) ?? next.querySelector("input"))?.focus();
  return true;
}
