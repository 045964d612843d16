// The request form of the offer page: signs a `request` record (specs/protocol.md
// 5.3) in the browser with the municipality's secret-key file (2.2) and submits
// it to this node. The key is read and used here only (WebCrypto Ed25519); the
// node receives the signed record, as from `kx request send`.
"use strict";
(function () {
  const form = document.getElementById("abruf");
  if (!form || !window.crypto || !window.crypto.subtle || !window.TextEncoder) {
    return;
  }
  form.hidden = false;
  const $ = (id) => document.getElementById(id);
  const out = $("abruf-ergebnis");
  const command = $("abruf-befehl");
  const utf8 = (s) => new TextEncoder().encode(s);
  const concat = (a, b) => {
    const c = new Uint8Array(a.length + b.length);
    c.set(a);
    c.set(b, a.length);
    return c;
  };
  const fromHex = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
  const fromB64url = (s) => {
    const b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    return Uint8Array.from(b, (c) => c.charCodeAt(0));
  };
  const toB64url = (bytes) =>
    btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  // did:key (2.1): "z" + base58btc of 0xed 0x01 and the 32-byte public key.
  const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  const publicKeyOf = (did) => {
    if (!did.startsWith("did:key:z")) {
      throw new Error("Die Schlüsseldatei nennt keine did:key-Kennung.");
    }
    let bytes = [0];
    for (const ch of did.slice(9)) {
      let carry = ALPHABET.indexOf(ch);
      if (carry < 0) {
        throw new Error("Die Kennung in der Schlüsseldatei ist beschädigt.");
      }
      for (let i = 0; i < bytes.length; i++) {
        carry += bytes[i] * 58;
        bytes[i] = carry & 0xff;
        carry >>= 8;
      }
      while (carry > 0) {
        bytes.push(carry & 0xff);
        carry >>= 8;
      }
    }
    for (const ch of did.slice(9)) {
      if (ch !== "1") break;
      bytes.push(0);
    }
    bytes = bytes.reverse();
    if (bytes.length !== 34 || bytes[0] !== 0xed || bytes[1] !== 0x01) {
      throw new Error("Die Kennung in der Schlüsseldatei ist kein Ed25519-Schlüssel.");
    }
    return new Uint8Array(bytes.slice(2));
  };
  // JCS (4): members sorted by their UTF-16 code units, primitives as JSON.stringify.
  const jcs = (v) => {
    if (Array.isArray(v)) {
      return "[" + v.map(jcs).join(",") + "]";
    }
    if (v !== null && typeof v === "object") {
      return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + jcs(v[k])).join(",") + "}";
    }
    return JSON.stringify(v);
  };
  const getJson = async (path) => {
    const r = await fetch(path, { headers: { accept: "application/json" } });
    const v = await r.json();
    if (!r.ok) {
      throw new Error(v.error.code + ": " + v.error.message);
    }
    return v;
  };
  const quote = (s) => '"' + s.replace(/(["\\$`])/g, "\\$1") + '"';
  const body = () => {
    const b = {
      offer: form.dataset.offer,
      quantity: Number($("menge").value),
      start: $("beginn").value + "T00:00:00Z",
      legal_basis: { kind: $("grundlage").value, reference: $("fundstelle").value.trim() },
      on_behalf_of: [],
      note: $("hinweis").value.trim(),
      contact: { role: $("rolle").value.trim() },
    };
    if ($("laufzeit").value) {
      b.term_months = Number($("laufzeit").value);
    }
    const mailbox = $("postfach").value.trim();
    if (mailbox) {
      b.contact.mailbox = mailbox;
    }
    return b;
  };
  const showCommand = () => {
    const parts = [
      "kx request send --key gemeinde.key",
      "--offer " + form.dataset.ref,
      "--version " + form.dataset.version,
      "--quantity " + ($("menge").value || "1"),
      "--start " + ($("beginn").value || "JJJJ-MM-TT"),
    ];
    if ($("laufzeit").value) {
      parts.push("--term-months " + $("laufzeit").value);
    }
    parts.push("--legal-basis " + $("grundlage").value);
    parts.push("--reference " + quote($("fundstelle").value.trim()));
    parts.push("--contact-role " + quote($("rolle").value.trim()));
    if ($("postfach").value.trim()) {
      parts.push("--contact-mailbox " + $("postfach").value.trim());
    }
    if ($("hinweis").value.trim()) {
      parts.push("--note " + quote($("hinweis").value.trim()));
    }
    command.textContent = parts.join(" ");
  };
  const next = new Date();
  next.setUTCMonth(next.getUTCMonth() + 1, 1);
  $("beginn").value = next.toISOString().slice(0, 10);
  form.addEventListener("input", showCommand);
  showCommand();
  const say = (text, href) => {
    out.hidden = false;
    out.textContent = text;
    if (href) {
      const a = document.createElement("a");
      a.href = href;
      a.textContent = " Zum Abruf";
      out.appendChild(a);
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const file = $("schluessel").files[0];
      if (!file) {
        throw new Error("Bitte die Schlüsseldatei der Gemeinde wählen.");
      }
      let key;
      try {
        key = JSON.parse(await file.text());
      } catch (e) {
        throw new Error("Die Datei ist keine KX-Schlüsseldatei.");
      }
      if (!key || key.type !== "kx-secret-key" || key.v !== 1 || typeof key.did !== "string" || typeof key.seed !== "string") {
        throw new Error("Die Datei ist keine KX-Schlüsseldatei.");
      }
      const seed = fromB64url(key.seed);
      if (seed.length !== 32) {
        throw new Error("Der Schlüssel in der Datei ist beschädigt.");
      }
      const pkcs8 = concat(fromHex("302e020100300506032b657004220420"), seed);
      const signing = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
      const checking = await crypto.subtle.importKey("raw", publicKeyOf(key.did), { name: "Ed25519" }, false, ["verify"]);
      const [status, author] = await Promise.all([
        getJson("/v1/status"),
        getJson("/v1/authors/" + encodeURIComponent(key.did)),
      ]);
      const record = {
        v: 1,
        federation: status.federation,
        kind: "request",
        author: key.did,
        seq: author.head ? author.head.seq + 1 : 1,
        prev: author.head ? author.head.id : null,
        issued_at: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
        body: body(),
      };
      const bytes = concat(utf8("kx-record-v1\u0000"), utf8(jcs(record)));
      const sig = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, signing, bytes));
      if (!(await crypto.subtle.verify({ name: "Ed25519" }, checking, sig, bytes))) {
        throw new Error("Schlüssel und Kennung der Datei passen nicht zusammen.");
      }
      record.sig = toB64url(sig);
      const r = await fetch("/v1/records", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: jcs(record),
      });
      const answer = await r.json();
      if (!r.ok) {
        throw new Error(answer.error.code + ": " + answer.error.message);
      }
      say("Abruf gesendet: " + answer.id + ".", "/abruf/" + answer.id);
    } catch (e) {
      say("Nicht gesendet – " + e.message);
    }
  });
})();
