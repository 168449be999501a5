import { checked, pick, pickNth } from "./choice.js";

const choiceName = (el) => `q-${el.dataset.question}-choice`;
const strengthName = (el) => `q-${el.dataset.question}-strength`;

export function init(el) {
  const sync = () => {
    const tie = checked(el, choiceName(el))?.value === "tie";
    for (const i of el.querySelectorAll(`input[name="${CSS.escape(strengthName(el))}"]`)) {
      i.disabled = tie;
      if (tie) i.checked = false;
    }
  };
  el.addEventListener("change", sync);
  el._sync = sync;
}
export function read(el) {
  const choice = checked(el, choiceName(el))?.value;
  if (choice === undefined) return undefined;
  const strength = checked(el, strengthName(el))?.value;
  return choice === "tie" || strength === undefined
    ? { choice }
    : { choice, strength: Number(strength) };
}
export function write(el, value) {
  pick(el, choiceName(el), value?.choice);
  pick(el, strengthName(el), value?.strength);
  el._sync?.();
}
export function digit(el, n) {
  return pickNth(el, choiceName(el), n);
}
