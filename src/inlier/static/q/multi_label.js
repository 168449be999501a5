import { pickNth } from "./choice.js";

const inputs = (el) => el.querySelectorAll(`input[name="${CSS.escape("q-" + el.dataset.question)}"]`);

export function read(el) {
  const values = [...inputs(el)].filter((i) => i.checked).map((i) => i.value);
  return values.length ? values : undefined;
}
export function write(el, value) {
  const set = new Set(Array.isArray(value) ? value : []);
  for (const i of inputs(el)) i.checked = set.has(i.value);
}
export function digit(el, n) {
  return pickNth(el, "q-" + el.dataset.question, n);
}
