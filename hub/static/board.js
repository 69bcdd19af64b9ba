// Drag a deal card onto another column: posts the same form as the move buttons, so the server
// applies the same rules (a lost stage asks for a reason on the deal page). Dropping on the won
// column asks first, saying what winning does; a drop while a move is being sent does nothing.
(function () {
  const form = document.getElementById("drop-form");
  if (!form) return;
  let dragged = null;
  document.querySelectorAll(".deal-card[draggable=true]").forEach((card) => {
    card.addEventListener("dragstart", (e) => {
      dragged = card;
      e.dataTransfer.setData("text/plain", card.dataset.dealId);
      e.dataTransfer.effectAllowed = "move";
    });
  });
  document.querySelectorAll(".column").forEach((column) => {
    column.addEventListener("dragover", (e) => {
      if (!dragged) return;
      e.preventDefault();
      column.classList.add("drop");
    });
    column.addEventListener("dragleave", () => column.classList.remove("drop"));
    column.addEventListener("drop", (e) => {
      e.preventDefault();
      column.classList.remove("drop");
      if (!dragged || dragged.closest(".column") === column) return;
      if (column.dataset.stageKind === "lost") {
        window.location = "/deals/" + dragged.dataset.dealId + "#lost";
        return;
      }
      const question = column.dataset.confirm;
      if (question && !window.confirm(question.replace("{deal}", dragged.dataset.dealNumber))) return;
      if (form.dataset.submitting) return;
      form.dataset.submitting = "1";
      form.action = "/deals/" + dragged.dataset.dealId + "/move";
      form.elements.stage_id.value = column.dataset.stageId;
      form.submit();
    });
  });
})();
