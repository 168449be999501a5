// Order responses best first: drag and drop, buttons, or Alt+↑/↓ on the focused entry.
// Ties (when allowed) join an entry to the one above it; tied entries share a rank.

const list = (el) => el.querySelector(".rank-list");
const entries = (el) => [...list(el).querySelectorAll(".rank-entry")];
const confirmBox = (el) => el.querySelector(".rank-confirm");

function groups(el) {
  const out = [];
  for (const li of entries(el)) {
    const tie = li.querySelector(".tie-above");
    if (tie?.checked && out.length) out[out.length - 1].push(li.dataset.field);
    else out.push([li.dataset.field]);
  }
  return out;
}

function refresh(el) {
  let rank = 0;
  entries(el).forEach((li, i) => {
    const tie = li.querySelector(".tie-above");
    if (tie) {
      tie.disabled = i === 0;
      if (i === 0) tie.checked = false;
    }
    if (!(tie?.checked && i > 0)) rank = i + 1;
    li.querySelector(".rank-pos").textContent = String(rank);
    li.setAttribute("aria-label", `${li.querySelector(".rank-name").textContent.trim()}, rank ${rank}`);
  });
}

function touched(el) {
  const box = confirmBox(el);
  if (box && !box.checked) box.checked = true;
  refresh(el);
  el.dispatchEvent(new Event("change", { bubbles: true }));
}

function move(el, li, delta) {
  const all = entries(el);
  const i = all.indexOf(li);
  const j = i + delta;
  if (j < 0 || j >= all.length) return;
  if (delta < 0) list(el).insertBefore(li, all[j]);
  else list(el).insertBefore(all[j], li);
  li.focus();
  touched(el);
  el.querySelector(".rank-live")?.remove();
  const live = document.createElement("span");
  live.className = "rank-live visually-hidden";
  live.setAttribute("aria-live", "assertive");
  live.textContent = `${li.querySelector(".rank-name").textContent.trim()} moved to position ${j + 1}`;
  el.append(live);
}

export function init(el) {
  let dragged = null;
  for (const li of entries(el)) {
    li.querySelector(".move-up").addEventListener("click", () => move(el, li, -1));
    li.querySelector(".move-down").addEventListener("click", () => move(el, li, 1));
    li.querySelector(".tie-above")?.addEventListener("change", () => touched(el));
    li.addEventListener("keydown", (e) => {
      if (e.target !== li || !e.altKey) return;
      if (e.key === "ArrowUp" || e.key === "ArrowDown") {
        e.preventDefault();
        e.stopPropagation();
        move(el, li, e.key === "ArrowUp" ? -1 : 1);
      }
    });
    li.addEventListener("dragstart", (e) => {
      dragged = li;
      li.classList.add("dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", li.dataset.field);
    });
    li.addEventListener("dragend", () => {
      li.classList.remove("dragging");
      dragged = null;
    });
    li.addEventListener("dragover", (e) => {
      if (!dragged || dragged === li) return;
      e.preventDefault();
      const box = li.getBoundingClientRect();
      const after = e.clientY > box.top + box.height / 2;
      list(el).insertBefore(dragged, after ? li.nextSibling : li);
    });
    li.addEventListener("drop", (e) => {
      e.preventDefault();
      touched(el);
    });
  }
  confirmBox(el)?.addEventListener("change", () => refresh(el));
  refresh(el);
}

export function read(el) {
  if (!confirmBox(el)?.checked) return undefined;
  return groups(el).map((g) => (g.length === 1 ? g[0] : g));
}

export function write(el, value) {
  if (!Array.isArray(value)) return;
  const byField = new Map(entries(el).map((li) => [li.dataset.field, li]));
  for (const entry of value) {
    const group = Array.isArray(entry) ? entry : [entry];
    group.forEach((field, k) => {
      const li = byField.get(field);
      if (!li) return;
      list(el).append(li);
      const tie = li.querySelector(".tie-above");
      if (tie) tie.checked = k > 0;
      byField.delete(field);
    });
  }
  for (const li of byField.values()) list(el).append(li);
  const box = confirmBox(el);
  if (box) box.checked = true;
  refresh(el);
}
