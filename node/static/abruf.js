// The request form of the offer page: signs a `request` record (specs/protocol.md
// 5.3) in the browser with the municipality's secret-key file (2.2) and submits
// it to this node. The key is read and used here only (WebCrypto: PBKDF2 and
// AES-CBC open an encrypted file, Ed25519 signs); the node receives the signed
// record, as from `kx request send`.
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
  // An encrypted key file (2.2.1): a did line, then the PEM block of a PKCS #8
  // EncryptedPrivateKeyInfo with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC).
  const OID = {
    pbes2: "2a864886f70d01050d",
    pbkdf2: "2a864886f70d01050c",
    hmacSha256: "2a864886f70d0209",
    aes256cbc: "60864801650304012a",
  };
  const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const damaged = () => new Error("Die verschlüsselte Schlüsseldatei ist beschädigt.");
  // One DER element at `pos` of `buf` with the expected tag: its content and end.
  const element = (buf, pos, tag) => {
    if (pos + 2 > buf.length || buf[pos] !== tag) {
      throw damaged();
    }
    let len = buf[pos + 1];
    let start = pos + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n < 1 || n > 3 || start + n > buf.length) {
        throw damaged();
      }
      len = 0;
      for (let i = 0; i < n; i++) {
        len = len * 256 + buf[start + i];
      }
      start += n;
    }
    if (start + len > buf.length) {
      throw damaged();
    }
    return { content: buf.subarray(start, start + len), end: start + len };
  };
  // The elements of a SEQUENCE's content, in order.
  const items = (content) => {
    const out = [];
    for (let pos = 0; pos < content.length; ) {
      const tag = content[pos];
      const e = element(content, pos, tag);
      out.push({ tag, content: e.content });
      pos = e.end;
    }
    return out;
  };
  const expect = (item, tag, oid) => {
    if (!item || item.tag !== tag || (oid && toHex(item.content) !== oid)) {
      throw new Error("Diese Verschlüsselung der Schlüsseldatei wird nicht unterstützt (erwartet: PBKDF2-HMAC-SHA256 und AES-256-CBC).");
    }
    return item.content;
  };
  const integer = (bytes) => bytes.reduce((n, b) => n * 256 + b, 0);
  const openEncrypted = async (text, passphrase) => {
    const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
    const did = lines[0];
    const begin = lines.indexOf("-----BEGIN ENCRYPTED PRIVATE KEY-----");
    const end = lines.indexOf("-----END ENCRYPTED PRIVATE KEY-----");
    if (begin !== 1 || end < begin) {
      throw new Error("Die Datei ist keine KX-Schlüsseldatei.");
    }
    if (!passphrase) {
      throw new Error("Die Schlüsseldatei ist verschlüsselt: bitte die Passphrase eingeben.");
    }
    const body = lines.slice(begin + 1, end);
    if (body.length === 0 || body.slice(0, -1).some((l) => l.length !== 64) || body[body.length - 1].length > 64) {
      throw damaged();
    }
    let bytes;
    try {
      bytes = Uint8Array.from(atob(body.join("")), (c) => c.charCodeAt(0));
    } catch (e) {
      throw damaged();
    }
    const [alg, data] = items(element(bytes, 0, 0x30).content);
    const [scheme, params] = items(expect(alg, 0x30));
    expect(scheme, 0x06, OID.pbes2);
    const [kdf, cipher] = items(expect(params, 0x30));
    const [kdfOid, kdfParams] = items(expect(kdf, 0x30));
    expect(kdfOid, 0x06, OID.pbkdf2);
    const p = items(expect(kdfParams, 0x30));
    const salt = expect(p[0], 0x04);
    const iterations = integer(expect(p[1], 0x02));
    let next = 2;
    if (p[next] && p[next].tag === 0x02) {
      if (integer(p[next].content) !== 32) {
        expect(null);
      }
      next++;
    }
    expect(items(expect(p[next], 0x30))[0], 0x06, OID.hmacSha256);
    if (iterations < 1 || iterations > 10000000) {
      expect(null);
    }
    const [cipherOid, iv] = items(expect(cipher, 0x30));
    expect(cipherOid, 0x06, OID.aes256cbc);
    const base = await crypto.subtle.importKey("raw", utf8(passphrase), "PBKDF2", false, ["deriveKey"]);
    const aes = await crypto.subtle.deriveKey(
      { name: "PBKDF2", hash: "SHA-256", salt, iterations },
      base,
      { name: "AES-CBC", length: 256 },
      false,
      ["decrypt"],
    );
    let plain;
    try {
      plain = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-CBC", iv: expect(iv, 0x04) }, aes, expect(data, 0x04)));
    } catch (e) {
      plain = new Uint8Array(0);
    }
    const prefix = "302e020100300506032b657004220420";
    if (plain.length !== 48 || toHex(plain.subarray(0, 16)) !== prefix) {
      throw new Error("Falsche Passphrase (oder eine beschädigte Schlüsseldatei).");
    }
    return { did, seed: plain.subarray(16) };
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
      const text = await file.text();
      let key;
      if (text.startsWith("did:")) {
        key = await openEncrypted(text, $("passphrase").value);
      } else {
        try {
          key = JSON.parse(text);
        } catch (e) {
          throw new Error("Die Datei ist keine KX-Schlüsseldatei.");
        }
        if (!key || key.type !== "kx-secret-key" || key.v !== 1 || typeof key.did !== "string" || typeof key.seed !== "string") {
          throw new Error("Die Datei ist keine KX-Schlüsseldatei.");
        }
        key.seed = fromB64url(key.seed);
      }
      const seed = key.seed;
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
