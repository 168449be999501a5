import { renderMarkdown } from "../api.js";

const area = (el) => el.querySelector("textarea");

export function init(el) {
  const ta = area(el);
  const count = el.querySelector(".count");
  const preview = el.querySelector(".preview");
  const min = Number(el.dataset.min || 0);
  const max = Number(el.dataset.max || 100000);
  let timer = null;
  let seq = 0;
  const update = () => {
    const n = ta.value.length;
    const parts = [`${n.toLocaleString()} characters`];
    if (min && n < min) parts.push(`at least ${min}`);
    if (max < 100000) parts.push(`at most ${max.toLocaleString()}`);
    count.textContent = parts.join(" · ");
    count.classList.toggle("short", min > 0 && n < min);
    if (!preview) return;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++seq;
      if (!ta.value.trim()) {
        preview.innerHTML = '<p class="muted">Preview appears here.</p>';
        return;
      }
      try {
        const [html] = await renderMarkdown([ta.value]);
        // The server sanitized this HTML; only the newest preview is shown.
        if (mine === seq) preview.innerHTML = html;
      } catch {
        if (mine === seq) preview.innerHTML = '<p class="muted">Preview unavailable right now.</p>';
      }
    }, 250);
  };
  ta.addEventListener("input", update);
  el._update = update;
  update();
}
export function read(el) {
  const v = area(el).value;
  return v.trim() ? v : undefined;
}
export function write(el, value) {
  area(el).value = typeof value === "string" ? value : "";
  el._update?.();
}
