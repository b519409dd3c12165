// pipit's page behaviour that is not in the HTML itself. The Content-Security-Policy forbids inline
// script and on* attributes, so forms ask for confirmation through data-confirm="question".
document.addEventListener('submit', (e) => {
  const q = e.target instanceof HTMLFormElement ? e.target.dataset.confirm : undefined;
  if (q && !window.confirm(q)) e.preventDefault();
});

// Focal points of attachments (data-focus="x% y%"): applied through the CSSOM, which the CSP allows,
// because style="" attributes are forbidden.
for (const img of document.querySelectorAll('img[data-focus]')) {
  img.style.objectPosition = img.dataset.focus;
}
