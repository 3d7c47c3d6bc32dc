// "New email": an agent writes first to a contact from one of their email inboxes. The
// conversation is created assigned to the agent and opened once sent.
import { $, h, toast } from "./dom.js";
import { api } from "./api.js";
import { state } from "./state.js";

export function renderNewConversationButton() {
  const emailInboxes = state.inboxes.filter((i) => i.kind === "email");
  $("new-conv-btn").hidden = emailInboxes.length === 0;
  const select = $("nc-inbox");
  select.replaceChildren(...emailInboxes.map((i) => h("option", { value: i.id }, i.name)));
}

export function initNewConversation(open) {
  const dialog = $("new-conv");
  const form = $("new-conv-form");
  $("new-conv-btn").addEventListener("click", () => {
    form.reset();
    $("nc-error").hidden = true;
    dialog.showModal();
    $("nc-to").focus();
  });
  $("nc-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const send = form.querySelector("button[type=submit]");
    send.disabled = true;
    $("nc-error").hidden = true;
    try {
      const conversation = await api("conversations/", {
        method: "POST",
        body: {
          inbox: Number($("nc-inbox").value),
          to_email: $("nc-to").value.trim(),
          to_name: $("nc-name").value.trim(),
          subject: $("nc-subject").value.trim(),
          text: $("nc-text").value,
        },
      });
      dialog.close();
      toast("Email queued to " + (conversation.contact.email || conversation.contact.name));
      open(conversation.id);
    } catch (error) {
      $("nc-error").textContent = error.message;
      $("nc-error").hidden = false;
    } finally {
      send.disabled = false;
    }
  });
}
