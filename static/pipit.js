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

// The menu item of the page being shown, for screen readers and the eye.
for (const a of document.querySelectorAll('.sitenav a[href]')) {
  if (a.getAttribute('href') === location.pathname) a.setAttribute('aria-current', 'page');
}

// Menus made of <details> ("More"): Escape or a click elsewhere closes them, as menus do.
document.addEventListener('click', (e) => {
  for (const d of document.querySelectorAll('details.more-menu[open]')) if (!d.contains(e.target)) d.open = false;
});
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape') return;
  const d = e.target instanceof Element && e.target.closest('details.more-menu[open]');
  if (d) { d.open = false; d.querySelector('summary').focus(); }
});

// Relative times ("5m", "3h") are rendered by the server; keep them current on a page left open.
// The exact time stays in the title (shown on hover).
function ago(t) {
  const s = Math.max(0, (Date.now() - Date.parse(t.dateTime)) / 1000);
  if (s < 60) return 'now';
  if (s < 3600) return Math.floor(s / 60) + 'm';
  if (s < 86400) return Math.floor(s / 3600) + 'h';
  if (s < 604800) return Math.floor(s / 86400) + 'd';
  return null; // older: the server's date is right for good
}
setInterval(() => {
  for (const t of document.querySelectorAll('time[data-relative]')) {
    const v = ago(t);
    if (v && t.textContent !== v) t.textContent = v;
  }
}, 60000);

// Compose boxes: a character counter, and suggestions of @handles and #tags this server knows
// (GET /search/suggest). Both only help: the form posts the same without them.
(function () {
  let n = 0;
  for (const field of document.querySelectorAll('form.compose textarea[name=content], input[data-suggest]')) {
    n++;
    if (field.maxLength > 0) {
      const counter = document.createElement('span');
      counter.className = 'counter';
      counter.id = 'counter-' + n;
      const max = field.maxLength;
      const update = () => {
        const left = max - [...field.value].length;
        counter.textContent = left + ' characters left';
        counter.classList.toggle('over', left < 0);
      };
      update();
      field.addEventListener('input', update);
      field.setAttribute('aria-describedby', counter.id);
      const row = field.form && field.form.querySelector('.compose-row:last-of-type');
      if (row) row.insertBefore(counter, row.querySelector('button[type=submit]')); else field.after(counter);
    }
    suggestions(field, n);
  }

  function suggestions(field, n) {
    const box = document.createElement('div');
    box.className = 'suggest';
    const list = document.createElement('ul');
    list.id = 'suggest-' + n;
    list.setAttribute('role', 'listbox');
    list.setAttribute('aria-label', 'Suggestions');
    list.hidden = true;
    box.appendChild(list);
    field.after(box);
    // aria-expanded is not allowed on a textarea (ARIA in HTML): the list says it is there by
    // aria-controls and the active option by aria-activedescendant.
    field.setAttribute('aria-autocomplete', 'list');
    field.setAttribute('aria-controls', list.id);
    let items = [], active = -1, timer = 0, asked = '';

    const token = () => {
      const upto = field.value.slice(0, field.selectionStart ?? field.value.length);
      const m = /(^|\s)([@#][\p{L}\p{N}_.@:-]+)$/u.exec(upto);
      return m ? { text: m[2], start: upto.length - m[2].length } : null;
    };
    const close = () => { list.hidden = true; items = []; active = -1; field.removeAttribute('aria-activedescendant'); };
    const mark = () => list.querySelectorAll('li').forEach((li, i) => {
      li.setAttribute('aria-selected', String(i === active));
      if (i === active) field.setAttribute('aria-activedescendant', li.id);
    });
    const accept = i => {
      const t = token();
      if (!t || !items[i]) return;
      const end = t.start + t.text.length;
      const insert = items[i].value + ' ';
      field.value = field.value.slice(0, t.start) + insert + field.value.slice(end);
      field.selectionStart = field.selectionEnd = t.start + insert.length;
      field.dispatchEvent(new Event('input'));
      close();
      field.focus();
    };
    async function ask() {
      const t = token();
      if (!t || t.text.length < 2) return close();
      if (t.text === asked) return;
      asked = t.text;
      let data;
      try {
        const r = await fetch('/search/suggest?q=' + encodeURIComponent(t.text), { credentials: 'same-origin' });
        if (!r.ok) return close();
        data = await r.json();
      } catch { return close(); }
      if (asked !== t.text) return; // typed on meanwhile
      items = t.text[0] === '@'
        ? data.accounts.map(a => ({ value: a.handle, label: a.name, detail: a.handle }))
        : data.tags.map(x => ({ value: '#' + x, label: '#' + x, detail: '' }));
      list.replaceChildren(...items.map((it, i) => {
        const li = document.createElement('li');
        li.id = list.id + '-' + i;
        li.setAttribute('role', 'option');
        li.textContent = it.label + ' ';
        if (it.detail) { const s = document.createElement('small'); s.textContent = it.detail; li.appendChild(s); }
        li.addEventListener('mousedown', e => { e.preventDefault(); accept(i); });
        return li;
      }));
      active = items.length ? 0 : -1;
      list.hidden = !items.length;
      mark();
    }
    field.addEventListener('input', () => { clearTimeout(timer); asked = asked && token()?.text === asked ? asked : ''; timer = setTimeout(ask, 150); });
    field.addEventListener('blur', () => setTimeout(close, 100));
    field.addEventListener('keydown', e => {
      if (list.hidden) return;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        active = (active + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
        mark();
      } else if ((e.key === 'Enter' || e.key === 'Tab') && active >= 0) {
        e.preventDefault();
        accept(active);
      } else if (e.key === 'Escape') {
        e.preventDefault();
        close();
      }
    });
  }
})();
