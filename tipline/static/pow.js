// Optional proof of work for the tip form (tipline/intake/pow.py). It runs while the
// tipster writes; a tip sent before it finishes is simply counted against the rate limit.
(function () {
  "use strict";
  var form = document.querySelector("form[data-pow-challenge]");
  if (!form || !window.crypto || !window.crypto.subtle || !window.TextEncoder) { return; }
  var challenge = form.getAttribute("data-pow-challenge");
  var bits = parseInt(form.getAttribute("data-pow-bits"), 10);
  var field = form.querySelector("input[name=pow_nonce]");
  if (!challenge || !field || !(bits > 0)) { return; }
  var encoder = new TextEncoder();

  function zeroBits(buffer) {
    var bytes = new Uint8Array(buffer), count = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) { count += 8; continue; }
      return count + Math.clz32(bytes[i]) - 24;
    }
    return count;
  }

  function attempt(nonce) {
    var batch = [];
    for (var i = 0; i < 256; i++) {
      batch.push(window.crypto.subtle.digest("SHA-256", encoder.encode(challenge + ":" + (nonce + i))));
    }
    Promise.all(batch).then(function (digests) {
      for (var j = 0; j < digests.length; j++) {
        if (zeroBits(digests[j]) >= bits) { field.value = String(nonce + j); return; }
      }
      window.setTimeout(function () { attempt(nonce + 256); }, 0);
    });
  }
  attempt(0);
})();
