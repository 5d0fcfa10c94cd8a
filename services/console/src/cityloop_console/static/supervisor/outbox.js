// The supervisor's outbox (待发送队列): every action is kept on the phone, in IndexedDB, from
// the moment it is taken until a service has answered it. An action carries the idempotency
// key made when it was taken, so sending it twice (a lost answer, two tabs, a retry) is
// applied once: the service answers a repeated key with its first answer.

const DB_NAME = "cityloop-supervisor";
const DB_VERSION = 1;
const OUTBOX = "outbox"; // actions not yet answered, in the order they were taken
const LOG = "log"; // actions answered: sent or refused
const SAVED = "saved"; // the last task lists read, for opening offline
const LOG_KEPT = 50;

/** A fresh idempotency key: random, so no two actions share one. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The SHA-256 of a photo, hex: the attachment says which photo it is. */
export async function sha256(blob) {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  });
}

let opened = null;

function db() {
  if (!opened) {
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const base = req.result;
      base.createObjectStore(OUTBOX, { keyPath: "seq", autoIncrement: true });
      base.createObjectStore(LOG, { keyPath: "seq" });
      base.createObjectStore(SAVED, { keyPath: "name" });
    };
    opened = request(req);
  }
  return opened;
}

async function all(store) {
  const base = await db();
  return request(base.transaction(store).objectStore(store).getAll());
}

/** Keep an action to send: ``action`` is {person, kind, site, stage, path, body, label,
 * caseId}, ``photos`` the files taken with it. Its key is made now, once. */
export async function enqueue(action, photos = []) {
  const kept = [];
  for (const photo of photos) {
    kept.push({ blob: photo, name: photo.name || "photo", type: photo.type || "image/jpeg",
      sha256: await sha256(photo) });
  }
  const item = { ...action, key: newKey(), photos: kept, uploaded: kept.map(() => null),
    photoCount: kept.length, takenAt: new Date().toISOString() };
  const base = await db();
  const tx = base.transaction(OUTBOX, "readwrite");
  const seq = await request(tx.objectStore(OUTBOX).add(item));
  await done(tx);
  return { ...item, seq };
}

export const queued = () => all(OUTBOX);
export async function answered() {
  return (await all(LOG)).sort((a, b) => b.seq - a.seq);
}

async function put(item) {
  const base = await db();
  const tx = base.transaction(OUTBOX, "readwrite");
  tx.objectStore(OUTBOX).put(item);
  await done(tx);
}

/** Move an answered action from the outbox to the log in one transaction, so it is never
 * in both nor in neither. The photos stay behind: their uris are in the body sent. */
async function settle(item, outcome) {
  const base = await db();
  const tx = base.transaction([OUTBOX, LOG], "readwrite");
  tx.objectStore(OUTBOX).delete(item.seq);
  const { photos, uploaded, ...kept } = item;
  tx.objectStore(LOG).put({ ...kept, ...outcome, answeredAt: new Date().toISOString() });
  await done(tx);
  await trimLog();
}

async function trimLog() {
  const entries = await answered();
  if (entries.length <= LOG_KEPT) return;
  const base = await db();
  const tx = base.transaction(LOG, "readwrite");
  for (const old of entries.slice(LOG_KEPT)) tx.objectStore(LOG).delete(old.seq);
  await done(tx);
}

export async function save(name, value) {
  const base = await db();
  const tx = base.transaction(SAVED, "readwrite");
  tx.objectStore(SAVED).put({ name, value, at: new Date().toISOString() });
  await done(tx);
}

export async function saved(name) {
  const base = await db();
  return request(base.transaction(SAVED).objectStore(SAVED).get(name));
}

// What a send attempt came to: the action is answered (sent or refused), or kept to try
// again (no network, the service not there now, or the session gone).
const KEEP = "keep";

function isTransient(status) {
  return status >= 500 || status === 401 || status === 408 || status === 425 || status === 429;
}

async function reasonOf(response) {
  try {
    const body = await response.json();
    const detail = body.detail ?? body.message ?? body;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail.map((d) => [(d.loc || []).join("."), d.msg].filter(Boolean).join(": "))
        .join("; ");
    }
    return JSON.stringify(detail);
  } catch {
    return `HTTP ${response.status}`;
  }
}

async function upload(photo) {
  const form = new FormData();
  form.append("file", photo.blob, photo.name);
  const response = await fetch("/media", { method: "POST", body: form, credentials: "same-origin" });
  if (!response.ok) return { response };
  const stored = await response.json();
  const attachment = { uri: stored.uri, media_type: stored.media_type || photo.type };
  const digest = stored.sha256 || photo.sha256;
  if (digest) attachment.sha256 = digest;
  return { attachment };
}

/** The action's photos uploaded (each once: its uri is kept as soon as it is known, so a
 * later attempt sends the very same body under the key), then the command. */
async function attempt(item, signals) {
  for (let i = 0; i < item.photos.length; i += 1) {
    if (item.uploaded[i]) continue;
    const { attachment, response } = await upload(item.photos[i]);
    if (response) {
      if (response.status === 401) signals.signedOut = true;
      if (isTransient(response.status)) return KEEP;
      return { outcome: "refused", status: response.status, reason: await reasonOf(response) };
    }
    item.uploaded[i] = attachment;
    await put(item);
  }
  if (item.photos.length) {
    item.body = { ...item.body,
      attachments: [...(item.body.attachments || []), ...item.uploaded] };
    item.photos = [];
    item.uploaded = [];
    await put(item);
  }
  const response = await fetch(`/api/${item.site}/${item.stage}/${item.path}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "Idempotency-Key": item.key },
    body: JSON.stringify(item.body),
  });
  if (response.status === 401) signals.signedOut = true;
  if (isTransient(response.status)) return KEEP;
  if (response.ok) {
    let answer = null;
    try { answer = await response.json(); } catch { answer = null; }
    return { outcome: "sent", status: response.status, answer,
      caseId: item.caseId || (answer && answer.case_id) || null };
  }
  return { outcome: "refused", status: response.status, reason: await reasonOf(response) };
}

let flushing = null;
let askedAgain = false;

/** Send the outbox in the order the actions were taken, stopping at the first one that has
 * to wait: a later action may depend on it. Resolves to {sent, refused, kept, signedOut}.
 * Asked while sending, it goes through the outbox once more after, for what was just taken. */
export function flush() {
  if (flushing) {
    askedAgain = true;
    return flushing;
  }
  const run = async () => {
    let result;
    do {
      askedAgain = false;
      result = await drain();
    } while (askedAgain && !result.kept);
    return result;
  };
  // One phone, one sender: two tabs would only make the services answer twice.
  flushing = (navigator.locks ? navigator.locks.request("cityloop-outbox", run) : run())
    .finally(() => { flushing = null; });
  return flushing;
}

/** Who the console's session names now: an action is sent only as the person who took it
 * (a key is theirs alone), so a phone passed to a colleague keeps its first owner's actions
 * until they sign in again. ``undefined`` when the console cannot be asked. */
async function signedIn() {
  try {
    const response = await fetch("/supervisor/me",
      { credentials: "same-origin", redirect: "manual", cache: "no-store" });
    if (!response.ok) return null;
    return (await response.json()).id;
  } catch {
    return undefined;
  }
}

async function drain() {
  const signals = { sent: 0, refused: 0, kept: 0, signedOut: false };
  const all = (await queued()).sort((a, b) => a.seq - b.seq);
  if (!all.length) return signals;
  const person = await signedIn();
  if (person === null) signals.signedOut = true;
  const items = all.filter((item) => item.person === person);
  signals.kept = all.length - items.length;
  for (const item of items) {
    let result;
    try {
      result = await attempt(item, signals);
    } catch {
      result = KEEP; // no network: fetch itself failed
    }
    if (result === KEEP) {
      signals.kept = all.length - signals.sent - signals.refused;
      break;
    }
    await settle(item, result);
    signals[result.outcome] += 1;
  }
  return signals;
}
