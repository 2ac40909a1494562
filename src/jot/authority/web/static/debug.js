"use strict";
// The token debugger. It decodes and verifies a token in this page with WebCrypto; the token
// is never sent anywhere (the one request is a GET of this authority's JWKS). Everything it
// shows is set as text, never as markup: a token's claims are someone else's input.
(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("debugger");
  if (!form) return;
  const B64URL = /^[A-Za-z0-9_-]*$/;

  // Which key each algorithm needs, and the WebCrypto parameters to import and verify with.
  const ALGS = {
    HS256: { kty: "oct", imp: { name: "HMAC", hash: "SHA-256" }, ver: { name: "HMAC" } },
    HS384: { kty: "oct", imp: { name: "HMAC", hash: "SHA-384" }, ver: { name: "HMAC" } },
    HS512: { kty: "oct", imp: { name: "HMAC", hash: "SHA-512" }, ver: { name: "HMAC" } },
    RS256: { kty: "RSA", imp: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, ver: { name: "RSASSA-PKCS1-v1_5" } },
    RS384: { kty: "RSA", imp: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-384" }, ver: { name: "RSASSA-PKCS1-v1_5" } },
    RS512: { kty: "RSA", imp: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-512" }, ver: { name: "RSASSA-PKCS1-v1_5" } },
    PS256: { kty: "RSA", imp: { name: "RSA-PSS", hash: "SHA-256" }, ver: { name: "RSA-PSS", saltLength: 32 } },
    PS384: { kty: "RSA", imp: { name: "RSA-PSS", hash: "SHA-384" }, ver: { name: "RSA-PSS", saltLength: 48 } },
    PS512: { kty: "RSA", imp: { name: "RSA-PSS", hash: "SHA-512" }, ver: { name: "RSA-PSS", saltLength: 64 } },
    // JWS (RFC 7518 §3.4) and WebCrypto both take ECDSA signatures as r || s, fixed size.
    ES256: { kty: "EC", crv: "P-256", size: 64, imp: { name: "ECDSA", namedCurve: "P-256" }, ver: { name: "ECDSA", hash: "SHA-256" } },
    ES384: { kty: "EC", crv: "P-384", size: 96, imp: { name: "ECDSA", namedCurve: "P-384" }, ver: { name: "ECDSA", hash: "SHA-384" } },
    ES512: { kty: "EC", crv: "P-521", size: 132, imp: { name: "ECDSA", namedCurve: "P-521" }, ver: { name: "ECDSA", hash: "SHA-512" } },
    EdDSA: { kty: "OKP", crv: "Ed25519", size: 64, imp: { name: "Ed25519" }, ver: { name: "Ed25519" } },
    Ed25519: { kty: "OKP", crv: "Ed25519", size: 64, imp: { name: "Ed25519" }, ver: { name: "Ed25519" } },
  };
  // The public members of each key type: a private JWK is read as its public half.
  const PUBLIC = { RSA: ["n", "e"], EC: ["crv", "x", "y"], OKP: ["crv", "x"], oct: ["k"] };

  const MEANING = {
    iss: "Issuer: the authority that signed it",
    sub: "Subject: the identity's stable id",
    aud: "Audience: the one destination that accepts it",
    exp: "Expires",
    nbf: "Not valid before",
    iat: "Issued at",
    jti: "Token id: for the audit log, replay detection and deny-lists",
    name: "The identity's name",
    groups: "The identity's groups (roles are decided by the destination, not carried here)",
    nonce: "A random value that makes every token unique",
  };

  class Refused extends Error {}

  function bytes(text, what) {
    // Strict base64url (RFC 7515 §2): no padding, no other alphabet, no impossible length.
    if (!B64URL.test(text) || text.length % 4 === 1) throw new Refused(`the ${what} is not base64url`);
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  }

  function object(data, what) {
    let value;
    try {
      value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
    } catch {
      throw new Refused(`the ${what} is not UTF-8 JSON`);
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new Refused(`the ${what} is not a JSON object`);
    }
    return value;
  }

  function when(seconds) {
    const date = new Date(seconds * 1000);
    const delta = seconds - Date.now() / 1000;
    const units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
    const [unit, size] = units.find(([, s]) => Math.abs(delta) >= s) || units[3];
    const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }).format(Math.round(delta / size), unit);
    return `${date.toLocaleString()} (${relative})`;
  }

  function pemBody(text) {
    const match = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
    if (!match) throw new Refused("the PEM text has no BEGIN/END lines");
    if (match[1] !== "PUBLIC KEY") {
      throw new Refused(`a PEM "${match[1]}" is not taken: paste the public key (BEGIN PUBLIC KEY)`);
    }
    return Uint8Array.from(atob(match[2].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  }

  async function authorityKeys() {
    const response = await fetch(form.dataset.jwks, { credentials: "omit", cache: "no-store" });
    if (!response.ok) throw new Refused(`this authority's JWKS answered ${response.status}`);
    return (await response.json()).keys || [];
  }

  function pickJwk(keys, kid) {
    if (kid !== undefined) {
      const found = keys.find((k) => k.kid === kid);
      if (!found) throw new Refused(`no key with kid ${JSON.stringify(kid)} in the key set`);
      return found;
    }
    if (keys.length !== 1) throw new Refused("the token names no kid, and the key set has more than one key");
    return keys[0];
  }

  async function importJwk(jwk, alg, spec) {
    if (jwk.kty !== spec.kty || (spec.crv && jwk.crv !== spec.crv)) {
      const has = jwk.crv ? `${jwk.kty} ${jwk.crv}` : jwk.kty;
      throw new Refused(`the key is ${has}, and ${alg} needs ${spec.crv ? `${spec.kty} ${spec.crv}` : spec.kty}`);
    }
    if (jwk.alg !== undefined && jwk.alg !== alg) {
      throw new Refused(`the key is for ${jwk.alg}, and the token says ${alg}`);
    }
    const bare = { kty: jwk.kty };
    for (const name of PUBLIC[jwk.kty]) if (jwk[name] !== undefined) bare[name] = jwk[name];
    try {
      return await crypto.subtle.importKey("jwk", bare, spec.imp, false, ["verify"]);
    } catch {
      throw new Refused("the key cannot be read as a public key for this algorithm");
    }
  }

  async function verifyingKey(header, spec) {
    const source = form.elements.source.value;
    const pasted = $("key").value.trim();
    if (source === "secret") {
      if (spec.kty !== "oct") throw new Refused(`${header.alg} is not an HMAC algorithm: choose a public key`);
      if (!pasted) throw new Refused("paste the HMAC secret");
      const secret = new TextEncoder().encode(pasted);
      return crypto.subtle.importKey("raw", secret, spec.imp, false, ["verify"]);
    }
    if (spec.kty === "oct") {
      // RFC 8725 §3.1: a public key must never be usable as an HMAC secret.
      throw new Refused(`${header.alg} needs a shared secret: choose "an HMAC secret"`);
    }
    if (source === "authority") return importJwk(pickJwk(await authorityKeys(), header.kid), header.alg, spec);
    if (!pasted) throw new Refused("paste a public key (JWK, JWKS or PEM)");
    if (pasted.startsWith("-----BEGIN")) {
      try {
        return await crypto.subtle.importKey("spki", pemBody(pasted), spec.imp, false, ["verify"]);
      } catch (error) {
        if (error instanceof Refused) throw error;
        throw new Refused(`the PEM key is not a ${spec.kty}${spec.crv ? ` ${spec.crv}` : ""} public key`);
      }
    }
    let parsed;
    try {
      parsed = JSON.parse(pasted);
    } catch {
      throw new Refused("the pasted key is neither PEM nor JSON");
    }
    const jwk = Array.isArray(parsed.keys) ? pickJwk(parsed.keys, header.kid) : parsed;
    return importJwk(jwk, header.alg, spec);
  }

  async function signature(parts, header) {
    if (header.alg === "none") throw new Refused('"alg": "none" is an unsigned token: never accepted');
    const spec = ALGS[header.alg];
    if (!spec) throw new Refused(`the algorithm ${JSON.stringify(header.alg)} is not one the debugger checks`);
    const sig = bytes(parts[2], "signature");
    if (spec.size && sig.length !== spec.size) {
      throw new Refused(`an ${header.alg} signature is ${spec.size} bytes; this one is ${sig.length}`);
    }
    const key = await verifyingKey(header, spec);
    const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
    if (!(await crypto.subtle.verify(spec.ver, key, sig, signed))) {
      throw new Refused("the signature does not match: the token was changed, or the key is not the one that signed it");
    }
    return `${header.alg} signature matches${header.kid ? ` the key ${header.kid}` : ""}`;
  }

  function claimChecks(header, payload) {
    const now = Date.now() / 1000;
    const leeway = Math.max(0, Number($("leeway").value) || 0);
    const checks = [];
    const add = (name, state, text) => checks.push({ name, state, text });
    if (typeof payload.exp !== "number") add("exp", "bad", "no exp: a token must expire");
    else if (now > payload.exp + leeway) add("exp", "bad", `expired ${when(payload.exp)}`);
    else add("exp", "ok", `expires ${when(payload.exp)}`);
    if (payload.nbf === undefined) add("nbf", "skip", "no nbf claim");
    else if (typeof payload.nbf !== "number") add("nbf", "bad", "nbf is not a number");
    else if (now < payload.nbf - leeway) add("nbf", "bad", `not valid before ${when(payload.nbf)}`);
    else add("nbf", "ok", `valid since ${when(payload.nbf)}`);
    const issuer = $("issuer").value.trim();
    if (!issuer) add("iss", "skip", "no issuer expected");
    else if (payload.iss !== issuer) add("iss", "bad", `issued by ${JSON.stringify(payload.iss)}, expected ${JSON.stringify(issuer)}`);
    else add("iss", "ok", `issued by ${issuer}`);
    const audience = $("audience").value.trim();
    const auds = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!audience) add("aud", "skip", "no audience expected: name the destination to check it");
    else if (!auds.includes(audience)) add("aud", "bad", `for ${JSON.stringify(payload.aud)}, not for ${JSON.stringify(audience)}`);
    else add("aud", "ok", `for ${audience}`);
    const typ = $("typ").value.trim();
    // RFC 7515 §4.1.9: "application/" may be left out of a typ, and case does not count.
    const norm = (t) => String(t).toLowerCase().replace(/^application\//, "");
    if (!typ) add("typ", "skip", "no type expected");
    else if (header.typ === undefined || norm(header.typ) !== norm(typ)) add("typ", "bad", `typ is ${JSON.stringify(header.typ)}, expected ${JSON.stringify(typ)}`);
    else add("typ", "ok", `typ is ${header.typ}`);
    return checks;
  }

  function show(id, value) {
    $(id).textContent = value === undefined ? "" : JSON.stringify(value, null, 2);
  }

  function showClaims(payload) {
    const body = $("claims").tBodies[0];
    body.replaceChildren();
    for (const [name, value] of Object.entries(payload || {})) {
      const row = body.insertRow();
      row.insertCell().textContent = name;
      const timed = ["exp", "nbf", "iat"].includes(name) && typeof value === "number";
      row.insertCell().textContent = timed ? `${value} — ${when(value)}` : JSON.stringify(value);
      row.insertCell().textContent = MEANING[name] || "";
    }
  }

  function verdict(state, text, checks) {
    const line = $("verdict");
    line.className = state;
    line.textContent = text;
    const list = $("checks");
    list.replaceChildren();
    for (const check of checks) {
      const item = document.createElement("li");
      item.className = check.state;
      item.dataset.check = check.name;
      item.textContent = `${check.name}: ${check.text}`;
      list.append(item);
    }
  }

  let run = 0;
  async function check() {
    const mine = ++run; // A newer run (more typing) wins; an older one stops showing.
    const token = $("token").value.trim();
    show("header");
    show("payload");
    showClaims({});
    if (!token) return verdict("hint", "Paste a token above.", []);
    const parts = token.split(".");
    try {
      if (parts.length === 5) {
        const header = object(bytes(parts[0], "header"), "header");
        show("header", header);
        return verdict("hint", "This is an encrypted token (JWE): only its header can be read here; its content needs the recipient's private key.", []);
      }
      if (parts.length !== 3) throw new Refused(`a signed token has 3 parts separated by dots; this has ${parts.length}`);
      const header = object(bytes(parts[0], "header"), "header");
      show("header", header);
      const payload = object(bytes(parts[1], "payload"), "payload");
      show("payload", payload);
      showClaims(payload);
      const checks = [];
      try {
        checks.push({ name: "signature", state: "ok", text: await signature(parts, header) });
      } catch (error) {
        if (!(error instanceof Refused)) throw error;
        checks.push({ name: "signature", state: "bad", text: error.message });
      }
      checks.push(...claimChecks(header, payload));
      if (mine !== run) return undefined;
      const failed = checks.find((c) => c.state === "bad");
      if (failed) return verdict("bad", `Not valid: ${failed.text}`, checks);
      return verdict("ok", "Verified: signature and claims check out", checks);
    } catch (error) {
      if (mine !== run) return undefined;
      const message = error instanceof Refused ? error.message : `cannot check it: ${error.message}`;
      return verdict("bad", `Not valid: ${message}`, []);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    check();
  });
  form.addEventListener("input", () => check());
  form.addEventListener("change", () => {
    $("key-box").hidden = form.elements.source.value === "authority";
    check();
  });
  // "Open in the debugger" links carry the token in the fragment, which is never sent to a
  // server; it is taken out of the address bar at once.
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("token")) {
    $("token").value = hash.get("token");
    if (hash.get("aud")) $("audience").value = hash.get("aud");
    history.replaceState(null, "", location.pathname);
    check();
  }
})();
