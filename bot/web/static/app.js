// What the page does beyond Gradio: footnotes (on a phone, the cited passage opens under the answer), the
// conversation sidebar, one rating per double click on 👍/👎, and Chinese for the few labels Gradio writes in
// English whatever the browser's language. A file, not an inline script: the Content-Security-Policy allows it.
(function () {
  var PHONE = window.matchMedia('(max-width: 768px)');  // Gradio's own breakpoint for its sidebar
  var DOUBLE_CLICK_MS = 600;  // a second click on an answer's thumbs within this is part of a double click
  var RETRY_MS = 100;
  var START_RETRIES = 50;  // how long (× RETRY_MS) the page may take to start listening to its sidebar
  var LABELS = {
    'Toggle Sidebar': '展开或收起对话记录',
    'More tabs': '更多标签页',
    'chatbot conversation': '对话内容',
    'Like': '有帮助',
    'Liked': '已评价：有帮助（再点一次取消）',
    'Dislike': '没帮助',
    'Disliked': '已评价：没帮助（再点一次取消）',
    'Clear': '清空',
    'Scroll down': '回到最新消息',
    'Copy': '复制',
    'Copied': '已复制',
    'Close': '关闭',
    'Error': '出错了',
    'Warning': '提示',
    'Info': '提示',
    'Loading': '加载中',
    'Loading...': '加载中……',
    'Drop File Here': '将文件拖放到此处',
    'Click to Upload': '点击上传',
    '- or -': '或',
    'Click to upload or drop files': '点击上传或拖放文件',
    'Empty value': '暂无内容',
    'Table actions': '表格操作',
    'Copy table data': '复制表格内容',
    'Fullscreen': '全屏',
    'Exit fullscreen mode': '退出全屏',
    'Download': '下载',
    'Remove': '移除',
    'Uploading...': '正在上传……',
    'File upload': '上传文件',
    'Open cell menu': '打开本列菜单',
    'Sort column': '排序',
    'Sort ascending': '升序排列',
    'Sort descending': '降序排列',
    'Clear sort': '取消排序',
    'Filter': '筛选',
    'Connection errored out.': '与服务器的连接中断，请刷新页面后再试。'
  };
  var PREFIXES = [[/^user's message: /, '提问：'], [/^bot's message: /, '回答：']];
  var TAG = /<[^>]*>/g;
  // Text Gradio writes in English whatever the page (or in the browser's language): whole text nodes that are one
  // of LABELS, outside what visitors and documents wrote (messages, sources, tables, the editor).
  var CONTENT = '#chatbot .message-content, .sources, #outline-preview, table, textarea';

  // ------------------------------------------------------------------ footnotes
  function reveal(id) {  // the sources panel: open the source (and any folded parents), scroll to it, flash it
    var el = document.getElementById(id);
    if (!el) return false;
    for (var p = el; p; p = p.parentElement) { if (p.tagName === 'DETAILS') p.open = true; }
    el.scrollIntoView({behavior: 'smooth', block: 'center'});
    document.querySelectorAll('.src.flash').forEach(function (x) { x.classList.remove('flash'); });
    el.classList.add('flash');
    setTimeout(function () { el.classList.remove('flash'); }, 2500);
    return true;
  }

  function scroller(el) {  // the nearest ancestor that scrolls
    for (var p = el.parentElement; p; p = p.parentElement) {
      var overflow = getComputedStyle(p).overflowY;
      if ((overflow === 'auto' || overflow === 'scroll') && p.scrollHeight > p.clientHeight) return p;
    }
    return null;
  }

  function centre(el) {
    var box = scroller(el);
    if (!box) { el.scrollIntoView({block: 'nearest'}); return; }
    var r = el.getBoundingClientRect();
    var b = box.getBoundingClientRect();
    box.scrollTop += (r.top - b.top) - (b.height - r.height) / 2;
  }

  function openInline(link, id) {  // a phone: a copy of the passage under the answer; the same [n] again closes it
    var el = document.getElementById(id);
    var message = link.closest('[data-testid="bot"]');
    if (!el || !message) return false;
    var open = message.querySelector('.cite-inline');
    if (open) {
      open.remove();
      if (open.getAttribute('data-for') === id) return true;
    }
    var box = document.createElement('div');
    box.className = 'cite-inline sources';  // styled as the sources panel
    box.setAttribute('data-for', id);
    var copy = el.cloneNode(true);  // our own escaped HTML, copied as nodes: nothing is parsed again
    copy.removeAttribute('id');
    copy.classList.remove('flash');
    copy.open = true;
    var close = document.createElement('button');
    close.type = 'button';
    close.className = 'cite-close';
    close.textContent = '收起原文，回到对话';
    box.appendChild(copy);
    box.appendChild(close);
    message.appendChild(box);
    centre(box.querySelector('mark') || box);  // the cited words, scrolled within the chat, not the page
    return true;
  }

  function closeInline(button) {
    var box = button.closest('.cite-inline');
    var message = box && box.parentElement;
    if (box) box.remove();
    if (message) message.scrollIntoView({block: 'nearest'});
    var input = document.querySelector('#question textarea');
    if (input) input.scrollIntoView({block: 'nearest'});
  }

  // ------------------------------------------------------------------ the sidebar
  function sidebar() { return document.getElementById('history'); }

  function closeSidebarOnPhone(retries) {
    var s = sidebar();
    if (!PHONE.matches || !s || !s.classList.contains('open')) return;
    var toggle = s.querySelector('.toggle-button');
    if (toggle) toggle.click();
    // While the page is starting, Gradio may not listen to the toggle yet: try again until it closes.
    if (retries > 0) setTimeout(function () { closeSidebarOnPhone(retries - 1); }, RETRY_MS);
  }

  function whenShown(selector, then) {
    if (document.querySelector(selector)) { then(); return; }
    var watch = new MutationObserver(function () {
      if (document.querySelector(selector)) { watch.disconnect(); then(); }
    });
    watch.observe(document.documentElement, {childList: true, subtree: true});
  }

  whenShown('#history', function () {
    closeSidebarOnPhone(START_RETRIES);  // a drawer over the whole screen on a phone: closed until asked for
    // Gradio measures the page to make room for the sidebar only when the window is resized, and the first time
    // before the page is laid out (it finds no room needed): each time the page's size changes, it measures again.
    requestAnimationFrame(function () {  // once the sidebar is in the page
      var page = sidebar().closest('.wrap');
      if (page && window.ResizeObserver) {
        new ResizeObserver(function () { window.dispatchEvent(new Event('resize')); }).observe(page);
      }
    });
  });

  // ------------------------------------------------------------------ Chinese labels
  function translate(el) {
    ['aria-label', 'title'].forEach(function (attr) {
      var value = el.getAttribute(attr);
      if (!value) return;
      var chinese = LABELS[value];
      for (var i = 0; !chinese && i < PREFIXES.length; i++) {
        if (PREFIXES[i][0].test(value)) {  // a message: its text, without the markup Gradio reads out too
          chinese = value.replace(PREFIXES[i][0], PREFIXES[i][1]).replace(TAG, '');
        }
      }
      if (chinese && chinese !== value) el.setAttribute(attr, chinese);
    });
  }

  function translateText(node) {
    var chinese = LABELS[node.nodeValue.trim()];
    if (chinese && node.parentElement && !node.parentElement.closest(CONTENT)) node.nodeValue = chinese;
  }

  function translateAll(root) {
    if (root.nodeType === 3) { translateText(root); return; }
    if (root.nodeType !== 1) return;
    translate(root);
    root.querySelectorAll('[aria-label], [title]').forEach(translate);
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (var node = walker.nextNode(); node; node = walker.nextNode()) translateText(node);
  }

  new MutationObserver(function (mutations) {
    mutations.forEach(function (m) {
      if (m.type === 'attributes') translate(m.target);
      else if (m.type === 'characterData') translateAll(m.target);
      else m.addedNodes.forEach(translateAll);
    });
  }).observe(document.documentElement, {
    subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['aria-label', 'title']
  });
  // Gradio may add this script after it has drawn parts of the page (the sidebar's toggle): label those too.
  translateAll(document.documentElement);

  // ------------------------------------------------------------------ clicks
  document.addEventListener('click', function (e) {
    var target = e.target && e.target.closest ? e.target : null;
    if (!target) return;
    var close = target.closest('.cite-close');
    if (close) {
      e.preventDefault();
      e.stopPropagation();
      closeInline(close);
      return;
    }
    var a = target.closest('a[href*="#src-"], a[href*="#osrc-"]');
    if (a) {
      var id = a.getAttribute('href').split('#').pop();
      e.preventDefault();
      e.stopPropagation();
      if (!(PHONE.matches && a.closest('#chatbot') && openInline(a, id))) reveal(id);
      return;
    }
    var thumbs = target.closest('#chatbot .message-buttons');
    if (thumbs && target.closest('button')) {
      var now = Date.now();
      var last = thumbs.lastClick || 0;
      thumbs.lastClick = now;
      if (now - last < DOUBLE_CLICK_MS) {  // the second click of a double click would take the rating back
        e.preventDefault();
        e.stopPropagation();
      }
      return;
    }
    if (target.closest('#conversations label, #new-chat')) setTimeout(function () { closeSidebarOnPhone(0); }, 0);
  }, true);
})();
