// The admin's widget page: "Copy" puts the snippet on the clipboard (and selects it, where the
// clipboard is not available, for a manual copy).
const snippet = document.getElementById("snippet");
const done = document.getElementById("copy-done");

document.getElementById("copy-snippet").addEventListener("click", async () => {
  snippet.select();
  try {
    await navigator.clipboard.writeText(snippet.value);
    done.textContent = "Copied.";
  } catch {
    done.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
  }
});
