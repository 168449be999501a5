import { checked, pick, pickNth } from "./choice.js";

const nameOf = (el) => "q-" + el.dataset.question;

export function read(el) {
  return checked(el, nameOf(el))?.value;
}
export function write(el, value) {
  pick(el, nameOf(el), value);
}
export function digit(el, n) {
  return pickNth(el, nameOf(el), n);
}
