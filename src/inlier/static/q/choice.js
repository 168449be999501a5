// label, rating and the choice part of other types: one radio group, picked by digit keys.

export function checked(el, name) {
  return el.querySelector(`input[name="${CSS.escape(name)}"]:checked`);
}

export function pick(el, name, value) {
  for (const input of el.querySelectorAll(`input[name="${CSS.escape(name)}"]`)) {
    input.checked = value !== undefined && value !== null && input.value === String(value);
  }
}

export function pickNth(el, name, n) {
  const inputs = el.querySelectorAll(`input[name="${CSS.escape(name)}"]`);
  const input = inputs[n - 1];
  if (!input || input.disabled) return false;
  if (input.type === "checkbox") input.checked = !input.checked;
  else input.checked = true;
  input.dispatchEvent(new Event("change", { bubbles: true }));
  input.focus();
  return true;
}
