// The field supervisor's page (信息监督员): tasks to verify (核实) and check (核查), reports
// (上报), all kept in the outbox first so that nothing done without network is lost.

import * as outbox from "./outbox.js";

const t = JSON.parse(document.getElementById("strings").textContent);
const session = JSON.parse(document.getElementById("session").textContent);
const $ = (id) => document.getElementById(id);
const RETRY_SECONDS = 10;

// --- status ---------------------------------------------------------------------------

function showNetwork() {
  const online = navigator.onLine;
  $("network").dataset.state = online ? "online" : "offline";
  $("network").textContent = online ? t.online : t.offline;
}

async function showOutbox() {
  const [waiting, log] = await Promise.all([outbox.queued(), outbox.answered()]);
  waiting.sort((a, b) => a.seq - b.seq);
  $("queued").textContent = String(waiting.length);
  $("tab-outbox").dataset.count = String(waiting.length);
  fill($("queue"), waiting, (item) => entry(item, "queued"), t.queue_empty);
  fill($("sent"), log, (item) => entry(item, item.outcome), t.log_empty);
  return waiting;
}

function entry(item, outcome) {
  const li = el("li", { class: outcome });
  li.dataset.key = item.key;
  li.dataset.kind = item.kind;
  li.dataset.outcome = outcome;
  if (item.caseId) li.dataset.caseId = item.caseId;
  const state = { queued: t.queued, sent: t.sent, refused: t.refused }[outcome];
  li.append(el("b", {}, `${t[`kind_${item.kind}`]} · ${state}`), el("span", {}, item.label));
  if (item.photoCount) li.append(el("small", {}, `${item.photoCount} ${t.with_photos}`));
  if (item.person !== session.id) li.append(el("small", { class: "tag" }, item.person));
  if (item.caseId) li.append(el("small", { class: "case-id" }, `${t.case} ${item.caseId}`));
  if (outcome === "refused" && item.reason) {
    li.append(el("small", { class: "reason" }, `${item.status}: ${item.reason}`));
  }
  li.append(el("time", {}, new Date(item.answeredAt || item.takenAt).toLocaleString()));
  return li;
}

// --- sending --------------------------------------------------------------------------

async function send() {
  const result = await outbox.flush();
  $("signed-out").hidden = !result.signedOut;
  await showOutbox();
  if (result.sent || result.refused) loadTasks();
}

// --- tasks ----------------------------------------------------------------------------

/** The sites whose tasks are the supervisor's: their district's, and the checks their city
 * entrusts to them (委托核查). */
function taskSources() {
  const sources = [
    { site: session.site, stage: "casefile", kind: "verification",
      path: "cases?status=verifying&limit=100", list: "cases" },
    { site: session.site, stage: "verification", kind: "check",
      path: "checks?pending=true&limit=100", list: "checks" },
  ];
  if (session.city && session.city !== session.site) {
    sources.push({ site: session.city, stage: "verification", kind: "check",
      path: "checks?pending=true&limit=100", list: "checks" });
  }
  return sources;
}

async function read(site, stage, path) {
  const response = await fetch(`/api/${site}/${stage}/${path}`, { credentials: "same-origin" });
  if (response.status === 401) $("signed-out").hidden = false;
  if (!response.ok) throw new Error(`${stage} ${path}: ${response.status}`);
  return response.json();
}

/** A case's report and what the department did, for the supervisor on site: read once and
 * kept, so an answer can be given offline with the case in view. */
async function detail(site, caseId) {
  try {
    const found = await read(site, "casefile", `cases/${caseId}`);
    const reported = found.timeline.find((e) => e.event_type === "case.reported");
    const completed = [...found.timeline].reverse()
      .find((e) => e.event_type === "disposal.completed");
    return {
      description: reported?.payload?.description ?? null,
      address: reported?.payload?.location?.address ?? null,
      disposal: completed?.payload?.description ?? null,
      case_number: found.case_number,
    };
  } catch {
    return null;
  }
}

let loading = null;

function loadTasks() {
  if (!loading) loading = refreshTasks().finally(() => { loading = null; });
  return loading;
}

async function refreshTasks() {
  const previous = (await outbox.saved("tasks"))?.value || [];
  const known = new Map(previous.map((task) => [taskId(task), task]));
  const tasks = [];
  let complete = true;
  for (const source of taskSources()) {
    let listed;
    try {
      listed = (await read(source.site, source.stage, source.path))[source.list];
    } catch {
      complete = false;
      tasks.push(...previous.filter((p) => p.site === source.site && p.kind === source.kind));
      continue;
    }
    for (const row of listed) {
      const task = { kind: source.kind, site: source.site, case_id: row.case_id,
        case_number: row.case_number, category_code: row.category_code, grid_code: row.grid_code,
        due: row.due_at || row.deadline || null,
        since: row.requested_at || row.reported_at || null };
      const before = known.get(taskId(task));
      // The case file of a case the city entrusts is the city's, which is not the
      // supervisor's to read: its task shows what the check list says.
      task.detail = before?.detail
        || (source.site === session.site ? await detail(source.site, row.case_id) : null);
      tasks.push(task);
    }
  }
  await outbox.save("tasks", tasks);
  await showTasks(complete ? null : t.tasks_unavailable);
}

const taskId = (task) => `${task.kind}:${task.site}:${task.case_id}`;

async function showTasks(problem = null) {
  const kept = await outbox.saved("tasks");
  const tasks = kept?.value || [];
  const actions = [...(await outbox.queued()), ...(await outbox.answered())]
    .filter((item) => item.kind !== "report" && item.outcome !== "refused");
  // A task is answered by an action taken since it was asked for: a check failed once is
  // asked for again, and answered again, after the department's second go.
  const answered = (task) => actions.some((item) => taskId({ ...item, case_id: item.caseId })
    === taskId(task) && (!task.since || Date.parse(item.takenAt) >= Date.parse(task.since)));
  $("tasks-as-of").textContent = problem
    || (kept ? `${t.tasks_as_of} ${new Date(kept.at).toLocaleString()}` : "");
  for (const kind of ["verification", "check"]) {
    const list = $(kind === "verification" ? "verifications" : "checks");
    fill(list, tasks.filter((task) => task.kind === kind),
      (task) => taskItem(task, answered(task)), t.no_tasks);
  }
}

function taskItem(task, answered) {
  const li = el("li", { class: answered ? "answered" : "" });
  li.dataset.caseId = task.case_id;
  li.dataset.site = task.site;
  const title = task.case_number || task.detail?.case_number || task.case_id.slice(0, 8);
  li.append(el("b", {}, title));
  if (task.site !== session.site) li.append(el("small", { class: "tag" }, t.city_check));
  if (task.detail?.description) li.append(el("span", {}, task.detail.description));
  const facts = [task.category_code && `${t.category} ${task.category_code}`,
    task.grid_code && `${t.grid} ${task.grid_code}`,
    task.due && `${t.due} ${new Date(task.due).toLocaleString()}`].filter(Boolean);
  li.append(el("small", {}, facts.join(" · ")));
  if (answered) {
    li.append(el("small", { class: "note" }, t.answer_queued));
  } else {
    const button = el("button", { type: "button", class: "answer" },
      task.kind === "verification" ? t.verify : t.check);
    button.addEventListener("click", () => openAnswer(task));
    li.append(button);
  }
  return li;
}

// --- answering a task -----------------------------------------------------------------

let answering = null;

function openAnswer(task) {
  answering = task;
  const verification = task.kind === "verification";
  $("answer-title").textContent = `${verification ? t.verify : t.check} · ${
    task.case_number || task.case_id}`;
  const facts = [[t.description, task.detail?.description], [t.disposal, task.detail?.disposal],
    [t.category, task.category_code], [t.grid, task.grid_code]];
  $("answer-case").replaceChildren(...facts.filter(([, v]) => v)
    .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  $("answer-yes-label").textContent = verification ? t.confirmed : t.passed;
  $("answer-no-label").textContent = verification ? t.not_confirmed : t.failed;
  $("answer").reset();
  $("answer").dataset.kind = task.kind;
  $("answer").dataset.caseId = task.case_id;
  $("answer-error").hidden = true;
  answerChoice();
  show("answer");
}

/** A failed check gives its reason, anything else remarks (the services refuse the other). */
function answerChoice() {
  const failedCheck = answering?.kind === "check" && $("answer-no").checked;
  $("answer-text-label").textContent = failedCheck ? t.reason : t.remarks;
}

async function submitAnswer(event) {
  event.preventDefault();
  const task = answering;
  const yes = $("answer-yes").checked;
  const text = $("answer-text").value.trim();
  let body;
  let stage;
  let path;
  if (task.kind === "verification") {
    stage = "casefile";
    path = `cases/${task.case_id}/verification/report`;
    body = { confirmed: yes };
    if (text) body.remarks = text;
  } else {
    stage = "verification";
    path = `cases/${task.case_id}/check`;
    body = { passed: yes };
    if (!yes && !text) return problem("answer-error", t.needs_reason);
    if (text) body[yes ? "remarks" : "reason"] = text;
  }
  const label = `${task.case_number || task.case_id} · ${
    $(yes ? "answer-yes-label" : "answer-no-label").textContent}`;
  const item = await outbox.enqueue(
    { person: session.id, kind: task.kind, site: task.site, stage, path, body, label,
      caseId: task.case_id },
    [...$("answer-photos").files],
  );
  $("answer").dataset.lastKey = item.key;
  answering = null;
  show("tasks");
  await Promise.all([showOutbox(), showTasks()]);
  send();
}

// --- reporting ------------------------------------------------------------------------

let position = null;

function locate() {
  if (!navigator.geolocation) return;
  $("position").textContent = t.locating;
  navigator.geolocation.getCurrentPosition(
    (found) => {
      position = { lon: found.coords.longitude, lat: found.coords.latitude };
      $("by-position").disabled = false;
      $("grid").value = "";
      $("position").textContent = `${t.located} ${position.lon.toFixed(5)}, ${
        position.lat.toFixed(5)}`;
    },
    () => { $("position").textContent = t.no_position; },
    { enableHighAccuracy: true, timeout: 15000 },
  );
}

async function submitReport(event) {
  event.preventDefault();
  $("report-done").hidden = true;
  const description = $("description").value.trim();
  if (!description) return problem("report-error", t.needs_description);
  $("report-error").hidden = true;
  const grid = $("grid").value;
  const location = grid ? { grid_code: grid } : { ...position };
  const address = $("address").value.trim();
  if (address) location.address = address;
  const category = $("category").selectedOptions[0];
  const body = { channel: "supervisor", category_code: category.value,
    category_kind: category.dataset.kind, description, location };
  if ($("self-handled").checked) body.self_handled = true;
  const item = await outbox.enqueue(
    { person: session.id, kind: "report", site: session.site, stage: "intake",
      path: "reports", body,
      label: `${category.textContent.trim()} · ${description}` },
    [...$("photos").files],
  );
  $("report").dataset.lastKey = item.key;
  $("report").reset();
  resetLocation();
  $("report-done").hidden = false;
  await showOutbox();
  send();
}

function resetLocation() {
  if (position) {
    $("grid").value = "";
  } else {
    $("grid").selectedIndex = 1;
  }
}

// --- the page -------------------------------------------------------------------------

function show(view) {
  for (const section of document.querySelectorAll(".view")) {
    section.hidden = section.dataset.view !== view;
  }
  for (const tab of document.querySelectorAll(".tabs button")) {
    if (tab.dataset.tab === view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
}

function problem(id, text) {
  $(id).textContent = text;
  $(id).hidden = false;
}

function el(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value) node.setAttribute(name, value);
  }
  if (text !== null) node.textContent = text;
  return node;
}

function fill(list, items, render, empty) {
  list.replaceChildren(...(items.length ? items.map(render)
    : [el("li", { class: "empty" }, empty)]));
}

function start() {
  for (const tab of document.querySelectorAll(".tabs button")) {
    tab.addEventListener("click", () => show(tab.dataset.tab));
  }
  $("refresh").addEventListener("click", () => loadTasks());
  $("send-now").addEventListener("click", () => send());
  $("answer").addEventListener("submit", submitAnswer);
  $("answer").addEventListener("change", answerChoice);
  $("answer-cancel").addEventListener("click", () => show("tasks"));
  $("report").addEventListener("submit", submitReport);
  $("locate").addEventListener("click", locate);
  resetLocation();
  window.addEventListener("online", () => { showNetwork(); send(); });
  window.addEventListener("offline", showNetwork);
  // The online event is not the network: a phone on a weak signal is "online" and still
  // cannot reach the centre, so the outbox is also tried again every few seconds.
  setInterval(async () => {
    if (Number($("queued").textContent) > 0) await send();
  }, RETRY_SECONDS * 1000);
  showNetwork();
  showOutbox().then(() => showTasks()).then(() => {
    document.body.dataset.ready = "true";
    send();
    loadTasks();
  });
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/supervisor/sw.js", { scope: "/supervisor/" });
  }
}

start();
