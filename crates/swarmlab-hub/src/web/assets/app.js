// swarmlab dashboard: live updates and chart tooltips. Every page works without this file;
// it only refreshes the parts marked data-live when the hub says something changed, and
// shows a chart point's title as a tooltip on hover or focus.
(() => {
  'use strict';

  const body = document.body;
  const events = body.dataset.events;
  if (events && 'EventSource' in window) {
    const status = document.querySelector('[data-live-status]');
    let timer = 0;
    let busy = false;
    let again = false;
    const refresh = async () => {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      try {
        const res = await fetch(location.href, { credentials: 'same-origin' });
        if (res.ok) {
          const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
          for (const el of document.querySelectorAll('[data-live]')) {
            const fresh = doc.querySelector('[data-live="' + CSS.escape(el.dataset.live) + '"]');
            if (fresh && fresh.innerHTML !== el.innerHTML) {
              el.replaceWith(document.importNode(fresh, true));
            }
          }
          body.dataset.refreshed = String(Number(body.dataset.refreshed || 0) + 1);
        }
      } catch (_) {
        // The next event tries again.
      }
      busy = false;
      if (again) {
        again = false;
        schedule();
      }
    };
    const schedule = () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    };
    const source = new EventSource(events);
    source.onopen = () => {
      if (status) status.hidden = false;
      body.dataset.live = 'open';
    };
    source.onerror = () => {
      if (status) status.hidden = true;
    };
    for (const kind of ['track', 'submission', 'lease', 'verdict', 'activity', 'head', 'idea', 'promotion', 'lagged']) {
      source.addEventListener(kind, schedule);
    }
  }

  // How long a verifier has been at it: the page says, the script counts on (as html.rs
  // writes it).
  const elapsed = (s) =>
    s < 60
      ? s + 's'
      : s < 3600
        ? Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's'
        : Math.floor(s / 3600) + 'h' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + 'm';
  setInterval(() => {
    for (const el of document.querySelectorAll('[data-elapsed]')) {
      if (!el.dataset.t0) el.dataset.t0 = String(Date.now());
      const s = Number(el.dataset.elapsed) + Math.floor((Date.now() - Number(el.dataset.t0)) / 1000);
      el.textContent = elapsed(s);
    }
  }, 1000);

  const tip = document.createElement('div');
  tip.className = 'tip';
  tip.setAttribute('role', 'tooltip');
  tip.hidden = true;
  body.appendChild(tip);

  const target = (el) =>
    el && el.closest
      ? el.closest('svg.chart .pt') ||
        el.closest('svg.chart circle, svg.chart path.failed, svg.chart path.clamped')
      : null;
  const show = (el, x, y) => {
    const title = el.querySelector(':scope > title');
    if (title) {
      // Keep the text for assistive technology, drop the native tooltip.
      el.dataset.tip = title.textContent;
      el.setAttribute('aria-label', title.textContent);
      title.remove();
    }
    if (!el.dataset.tip) return;
    tip.textContent = el.dataset.tip;
    tip.hidden = false;
    const w = tip.offsetWidth;
    const left = Math.min(Math.max(8, x - w / 2), window.innerWidth - w - 8);
    tip.style.left = left + window.scrollX + 'px';
    tip.style.top = y + window.scrollY - tip.offsetHeight - 12 + 'px';
  };
  document.addEventListener('pointerover', (e) => {
    const el = target(e.target);
    if (el) show(el, e.clientX, e.clientY);
  });
  document.addEventListener('pointerout', (e) => {
    if (target(e.target)) tip.hidden = true;
  });
  document.addEventListener('focusin', (e) => {
    const el = target(e.target);
    if (!el) return;
    const r = el.getBoundingClientRect();
    show(el, r.left + r.width / 2, r.top);
  });
  document.addEventListener('focusout', () => {
    tip.hidden = true;
  });
})();
