/**
 * The demo page's script (served as /assets/app.<hash>.js, immutable). Plain ES2020 for browsers, kept as a
 * string so the worker serves it without a bundler step. It reads its configuration from the page's
 * <script id="config" type="application/json">, streams GET /v1/samples/{seed}/stream with fetch (so a 400
 * shows the problem's title and detail) and dispatches a `preview-step` event on window for every step it shows.
 * The steps field and the grid stay within the model's work limit (images x steps, x 2 with guidance); an
 * image or grid that fails anyway shows the problem the worker answered.
 */
export const CLIENT_JS = String.raw`(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('config').textContent);
  function $(id) { return document.getElementById(id); }
  var form = $('controls'), image = $('image'), progress = $('progress'), status = $('status'), permalink = $('permalink');
  var modelSelect = $('model'), classSelect = $('class'), samplerSelect = $('sampler'), stepsInput = $('steps'), seedInput = $('seed');
  var live = $('live'), history = $('history'), grid = $('grid'), gridButton = $('show-grid');
  var running = { controller: null };

  function modelConfig() {
    var name = modelSelect ? modelSelect.value : config.defaultModel;
    return config.models.filter(function (m) { return m.name === name; })[0] || config.models[0];
  }

  function fillClasses(model, selected) {
    classSelect.textContent = '';
    var any = new Option('any (unconditional)', '');
    classSelect.add(any);
    for (var k = 0; k < model.numClasses; k++) {
      var name = model.classNames ? model.classNames[k] : String(k);
      classSelect.add(new Option(k + ': ' + name, String(k)));
    }
    classSelect.value = selected || '';
    classSelect.disabled = model.numClasses === 0;
    fitLimits();
  }

  /** 2 when the request is guided (a class, and the model's guidance is not 1): guidance runs the model twice. */
  function workFactor(model) { return classSelect.value !== '' && model.defaults.guidance !== 1 ? 2 : 1; }

  /** Images of the grid for these steps: the configured count, or fewer to stay within the model's work limit. */
  function gridImages() {
    var model = modelConfig(), steps = Math.max(1, Math.round(Number(stepsInput.value)) || 1);
    return Math.max(1, Math.min(config.gridImages, Math.floor(model.maxImageSteps / (steps * workFactor(model)))));
  }

  /** The steps field's maximum and the grid button's count, for the model, class and steps now in the form. */
  function fitLimits() {
    var model = modelConfig();
    stepsInput.max = String(Math.max(1, Math.min(model.maxSteps, Math.floor(model.maxImageSteps / workFactor(model)))));
    gridButton.textContent = 'Grid of ' + gridImages();
  }

  /** The request's query: only parameters that differ from the model's defaults, so equal requests share one URL. */
  function query() {
    var q = new URLSearchParams();
    var model = modelConfig();
    if (model.name !== config.defaultModel) q.set('model', model.name);
    if (classSelect.value !== '') q.set('class', classSelect.value);
    if (samplerSelect.value !== model.defaults.sampler) q.set('sampler', samplerSelect.value);
    var steps = Math.round(Number(stepsInput.value));
    if (steps !== model.defaults.steps) q.set('steps', String(steps));
    var s = q.toString();
    return s ? '?' + s : '';
  }

  function seed() {
    var v = seedInput.value.trim();
    return /^(0|[1-9][0-9]{0,15})$/.test(v) && Number(v) <= Number.MAX_SAFE_INTEGER ? v : null;
  }

  function setStatus(text, isError) {
    status.textContent = text;
    status.className = isError ? 'error' : '';
  }

  function remember() {
    var q = query(), s = seedInput.value;
    var url = location.pathname + '?seed=' + s + (q ? '&' + q.slice(1) : '');
    window.history.replaceState(null, '', url);
  }

  function addToHistory(src, seedValue, q) {
    var button = document.createElement('button');
    button.type = 'button';
    button.title = 'seed ' + seedValue + (q ? ' ' + q : '');
    var thumb = document.createElement('img');
    thumb.className = 'pixels';
    thumb.alt = button.title;
    thumb.src = src;
    button.appendChild(thumb);
    button.addEventListener('click', function () { image.src = src; permalink.href = src; setStatus(button.title, false); });
    history.insertBefore(button, history.firstChild);
    while (history.children.length > 24) history.removeChild(history.lastChild);
  }

  function parseEvent(block) {
    var event = 'message', data = [];
    block.split('\n').forEach(function (line) {
      if (line.indexOf('event:') === 0) event = line.slice(6).trim();
      else if (line.indexOf('data:') === 0) data.push(line.slice(5).replace(/^ /, ''));
    });
    return { event: event, data: data.length ? JSON.parse(data.join('\n')) : null };
  }

  /** A problem+json as one line: its title and its detail. */
  function problemLine(p, fallback) {
    if (!p || (!p.title && !p.detail)) return fallback;
    return p.title && p.detail ? p.title + ': ' + p.detail : p.title || p.detail;
  }

  async function problemText(res) {
    try { return problemLine(await res.json(), 'HTTP ' + res.status); } catch (e) { return 'HTTP ' + res.status; }
  }

  /** Why an <img> did not load its URL: the URL fetched again for its problem (a 4xx answers before any model run). */
  async function imageProblem(url) {
    try {
      var res = await fetch(url);
      return res.ok ? 'the image did not load' : await problemText(res);
    } catch (e) { return 'the image did not load: ' + (e && e.message ? e.message : e); }
  }

  /** Reads a server-sent event stream; handle gets each event and returns true at the last one. */
  async function readEvents(res, handle) {
    if (!res.ok || !res.body) throw new Error(await problemText(res));
    var reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    var buffer = '';
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      buffer += chunk.value.replace(/\r\n?/g, '\n');
      var blocks = buffer.split('\n\n');
      buffer = blocks.pop();
      for (var i = 0; i < blocks.length; i++) {
        if (!blocks[i].trim()) continue;
        var message = parseEvent(blocks[i]);
        if (message.event === 'error') throw new Error(problemLine(message.data, 'stream failed'));
        if (handle(message.event, message.data)) return;
      }
    }
    throw new Error('the stream ended early');
  }

  async function streamSample(s, q, signal) {
    var res = await fetch('/v1/samples/' + s + '/stream' + q, { signal: signal, headers: { accept: 'text/event-stream' } });
    await readEvents(res, function (event, d) {
      if (event === 'start') {
        progress.max = d.total; progress.value = 0;
        setStatus('starting: ' + d.total + ' steps', false);
      } else if (event === 'step') {
        image.src = d.image;
        progress.value = d.index + 1;
        image.dataset.step = String(d.index);
        setStatus('step ' + (d.index + 1) + ' / ' + d.total + ' (t = ' + d.t + '): predicted x0', false);
        window.dispatchEvent(new CustomEvent('preview-step', { detail: { index: d.index, total: d.total, t: d.t } }));
      } else if (event === 'done') {
        image.src = d.image;
        permalink.href = d.url;
        progress.value = progress.max;
        setStatus('done: ' + d.total + ' steps, seed ' + s + ' (' + (d.cache === 'HIT' ? 'already cached' : 'now cached') + ')', false);
        addToHistory(d.url, s, q);
        return true;
      }
      return false;
    });
  }

  function loadStatic(s, q) {
    var url = '/v1/samples/' + s + '.png' + q;
    return new Promise(function (resolve, reject) {
      image.onload = function () { image.onload = image.onerror = null; resolve(url); };
      image.onerror = function () { image.onload = image.onerror = null; imageProblem(url).then(function (text) { reject(new Error(text)); }); };
      image.src = url;
      permalink.href = url;
    });
  }

  /**
   * Runs work(signal) as the only run of its slot (starting one aborts the one before), with the element's
   * data-state running, then done or error (reported); an aborted run reports nothing.
   */
  async function exclusive(slot, element, report, work) {
    if (slot.controller) slot.controller.abort();
    var controller = new AbortController();
    slot.controller = controller;
    element.dataset.state = 'running';
    try {
      await work(controller.signal);
      if (slot.controller === controller) element.dataset.state = 'done';
    } catch (error) {
      if (controller.signal.aborted) return;
      element.dataset.state = 'error';
      report(error && error.message ? error.message : String(error), true);
    } finally {
      if (slot.controller === controller) slot.controller = null;
    }
  }

  /** Generates with the form's parameters: streamed with a live preview, or as the (cacheable) PNG URL. */
  async function run(event, preferStatic) {
    if (event) event.preventDefault();
    var s = seed();
    if (s === null) { setStatus('seed must be an integer in [0, ' + Number.MAX_SAFE_INTEGER + ']', true); return; }
    var q = query();
    await exclusive(running, image, setStatus, async function (signal) {
      remember();
      if (live.checked && !preferStatic) {
        await streamSample(s, q, signal);
      } else {
        setStatus('generating...', false);
        addToHistory(await loadStatic(s, q), s, q);
        progress.value = progress.max;
        setStatus('done: seed ' + s, false);
      }
    });
  }

  /**
   * The restoration section (Cold Diffusion models): the chosen image is drawn at the model's size (grey for a
   * 1-channel model, opaque), sent as a PNG to POST /v1/restore/stream with input=clean, and the worker's
   * degraded input, each step's x0 estimate and the result are shown as they arrive.
   */
  function coldSection() {
    var coldModel = $('cold-model'), source = $('cold-source'), file = $('cold-file'), level = $('cold-t'), levelValue = $('cold-t-value');
    var naive = $('cold-naive'), clean = $('cold-clean'), degraded = $('cold-degraded'), result = $('cold-result');
    var coldProgress = $('cold-progress'), coldStatus = $('cold-status'), caption = $('cold-caption');
    var uploaded = null, coldRunning = { controller: null };
    function cold() { return config.cold.filter(function (m) { return m.name === coldModel.value; })[0] || config.cold[0]; }
    function say(text, isError) { coldStatus.textContent = text; coldStatus.className = isError ? 'error' : ''; }
    function showLevel() { levelValue.textContent = level.value; }
    function loadImage(src) {
      return new Promise(function (resolve, reject) {
        var img = new Image();
        img.onload = function () { resolve(img); };
        img.onerror = function () { reject(new Error('the image cannot be read')); };
        img.src = src;
      });
    }
    /** The chosen image at the model's size, as the PNG the worker takes. */
    async function cleanPng(model) {
      var img = source.value === 'upload' ? uploaded : await loadImage(image.src);
      if (!img) throw new Error('choose a file first');
      var canvas = document.createElement('canvas');
      canvas.width = canvas.height = model.imageSize;
      var ctx = canvas.getContext('2d');
      ctx.fillStyle = '#000';
      ctx.fillRect(0, 0, model.imageSize, model.imageSize);
      ctx.drawImage(img, 0, 0, model.imageSize, model.imageSize);
      var pixels = ctx.getImageData(0, 0, model.imageSize, model.imageSize);
      for (var i = 0; i < pixels.data.length; i += 4) {
        if (model.channels === 1) {
          var grey = Math.round(0.299 * pixels.data[i] + 0.587 * pixels.data[i + 1] + 0.114 * pixels.data[i + 2]);
          pixels.data[i] = pixels.data[i + 1] = pixels.data[i + 2] = grey;
        }
        pixels.data[i + 3] = 255;
      }
      ctx.putImageData(pixels, 0, 0);
      clean.src = canvas.toDataURL('image/png');
      return new Promise(function (resolve) { canvas.toBlob(resolve, 'image/png'); });
    }
    function restoreRun(event) {
      event.preventDefault();
      var model = cold();
      var q = new URLSearchParams({ model: model.name, t: level.value, input: 'clean' });
      if (naive.checked) q.set('algorithm', '1');
      return exclusive(coldRunning, result, say, async function (signal) {
        var body = await cleanPng(model);
        say('degrading to t = ' + level.value + '...', false);
        var res = await fetch('/v1/restore/stream?' + q.toString(), { method: 'POST', body: body, signal: signal, headers: { 'content-type': 'image/png', accept: 'text/event-stream' } });
        await readEvents(res, function (event, d) {
          if (event === 'start') {
            degraded.src = d.degraded;
            coldProgress.max = d.total; coldProgress.value = 0;
            caption.textContent = 'restoring';
          } else if (event === 'step') {
            result.src = d.image;
            coldProgress.value = d.index + 1;
            result.dataset.step = String(d.index);
            say('step ' + (d.index + 1) + ' / ' + d.total + ' (level ' + d.t + ' to ' + (d.t - 1) + '): estimate of the clean image', false);
            window.dispatchEvent(new CustomEvent('restore-step', { detail: { index: d.index, total: d.total, t: d.t } }));
          } else if (event === 'done') {
            result.src = d.image;
            coldProgress.value = coldProgress.max;
            caption.textContent = 'restored';
            say('restored from t = ' + d.total + ' with Algorithm ' + (q.get('algorithm') === '1' ? '1 (naive)' : '2'), false);
            return true;
          }
          return false;
        });
      });
    }
    coldModel.addEventListener('change', function () {
      var m = cold();
      level.max = String(m.T);
      if (Number(level.value) > m.T) level.value = String(m.T);
      showLevel();
    });
    level.addEventListener('input', showLevel);
    source.addEventListener('change', function () {
      var upload = source.value === 'upload';
      document.querySelectorAll('.upload').forEach(function (el) { el.hidden = !upload; });
    });
    file.addEventListener('change', function () {
      var f = file.files && file.files[0];
      if (!f) return;
      var reader = new FileReader();
      reader.onload = function () { loadImage(reader.result).then(function (img) { uploaded = img; clean.src = reader.result; say('file loaded: press Degrade and restore', false); }, function (e) { say(e.message, true); }); };
      reader.readAsDataURL(f);
    });
    $('cold-controls').addEventListener('submit', restoreRun);
  }

  function randomSeed() {
    var words = new Uint32Array(1);
    crypto.getRandomValues(words);
    seedInput.value = String(words[0]);
  }

  /** The grid for the form's seed and parameters (n when the work limit needs fewer images); errors in the status line. */
  function showGrid() {
    var s = seed();
    if (s === null) { setStatus('seed must be an integer in [0, ' + Number.MAX_SAFE_INTEGER + ']', true); return; }
    var n = gridImages(), q = query();
    if (n !== config.gridImages) q += (q ? '&' : '?') + 'n=' + n;
    var url = '/v1/grids/' + s + '.png' + q;
    grid.dataset.state = 'running';
    grid.onload = function () { grid.dataset.state = 'done'; grid.hidden = false; setStatus('grid of ' + n + ', seed ' + s, false); };
    grid.onerror = function () {
      if (grid.getAttribute('src') !== url) return; // a newer grid replaced this one
      grid.hidden = true;
      imageProblem(url).then(function (text) { grid.dataset.state = 'error'; setStatus('grid: ' + text, true); });
    };
    setStatus('generating a grid of ' + n + '...', false);
    grid.src = url;
    grid.alt = 'a grid of ' + n + ' samples for seed ' + s;
  }

  /** The model's sampler and steps in the form (a model change, or a shared link that omits them). */
  function applyDefaults(model) {
    samplerSelect.value = model.defaults.sampler;
    stepsInput.value = String(model.defaults.steps);
    fitLimits();
  }

  function restore() {
    var p = new URLSearchParams(location.search);
    if (!p.has('seed')) return false;
    if (modelSelect && p.has('model')) modelSelect.value = p.get('model');
    fillClasses(modelConfig(), p.get('class') || '');
    applyDefaults(modelConfig());
    if (p.has('sampler')) samplerSelect.value = p.get('sampler');
    if (p.has('steps')) stepsInput.value = p.get('steps');
    seedInput.value = p.get('seed');
    fitLimits();
    return true;
  }

  // a picked model starts from its initial class (as the page does), a shared link from the class it names (or none)
  if (modelSelect) modelSelect.addEventListener('change', function () {
    var model = modelConfig();
    fillClasses(model, model.initialClass === null ? '' : String(model.initialClass));
    applyDefaults(model);
  });
  classSelect.addEventListener('change', fitLimits);
  stepsInput.addEventListener('input', fitLimits);
  form.addEventListener('submit', run);
  if ($('cold-controls')) coldSection();
  $('random').addEventListener('click', function () { randomSeed(); run(); });
  gridButton.addEventListener('click', showGrid);
  fitLimits();
  if (restore()) run(null, true); // a shared link shows its PNG: a cache hit once generated
  else image.dataset.state = 'idle';
})();
`;
