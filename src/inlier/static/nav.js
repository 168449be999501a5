// The unread count beside "Inbox" in the page header.
import { api } from "./api.js";

const badge = document.getElementById("unread-count");
if (badge) {
  api("GET", "/me/notifications?unread=true&limit=1")
    .then(({ data }) => {
      badge.textContent = data.unread > 99 ? "99+" : String(data.unread);
      badge.hidden = !data.unread;
      badge.parentElement.setAttribute("aria-label", `Inbox, ${data.unread} unread`);
    })
    .catch(() => {});
}
