// Footnote clicks: open the cited source (and any folded parents), scroll to it and flash it.
(function () {
  function reveal(id) {
    var el = document.getElementById(id);
    if (!el) return false;
    for (var p = el; p; p = p.parentElement) { if (p.tagName === 'DETAILS') p.open = true; }
    el.scrollIntoView({behavior: 'smooth', block: 'center'});
    document.querySelectorAll('.src.flash').forEach(function (x) { x.classList.remove('flash'); });
    el.classList.add('flash');
    setTimeout(function () { el.classList.remove('flash'); }, 2500);
    return true;
  }
  document.addEventListener('click', function (e) {
    var a = e.target && e.target.closest ? e.target.closest('a[href*="#src-"], a[href*="#osrc-"]') : null;
    if (!a) return;
    var id = a.getAttribute('href').split('#').pop();
    e.preventDefault();
    e.stopPropagation();
    reveal(id);
  }, true);
})();
