// Live deck columns: when the server says something arrived (Server-Sent Events), reload each
// column's contents from /deck/column/N. Without JavaScript the deck is a plain page.
(function () {
  const deck = document.getElementById('deck');
  if (!deck || !window.EventSource) return;
  let busy = false, again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      for (const col of deck.querySelectorAll('[data-column]')) {
        const i = col.dataset.column;
        const r = await fetch('/deck/column/' + i, { credentials: 'same-origin' });
        if (r.ok) col.querySelector('.deck-body').innerHTML = await r.text();
      }
      deck.dataset.updated = String(Date.now());
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }
  const es = new EventSource(deck.dataset.live);
  es.addEventListener('open', () => deck.querySelectorAll('.live-dot').forEach(d => d.hidden = false));
  es.addEventListener('error', () => deck.querySelectorAll('.live-dot').forEach(d => d.hidden = true));
  es.addEventListener('update', refresh);
})();
