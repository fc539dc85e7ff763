/* Sivug web app: the little behaviour htmx does not cover. No inline scripts (CSP). */
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } finally { document.body.removeChild(area); }
    return Promise.resolve();
  }

  // Copy buttons: data-copy="#selector" copies that element's text.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    copyText(source.textContent.trim()).then(function () {
      var label = button.textContent;
      button.textContent = button.getAttribute("data-copied") || label;
      button.classList.add("is-done");
      setTimeout(function () { button.textContent = label; button.classList.remove("is-done"); }, 1600);
    });
  });

  // Forms that need a second thought: data-confirm="question".
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // Close the account menu when clicking elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.account[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });

  // Staging: Clerk's hosted sign-in (Clerk's script is loaded only there).
  function startClerk() {
    var mount = document.querySelector("[data-clerk-sign-in]");
    if (!mount) return;
    var next = mount.getAttribute("data-next") || "/classify";
    if (!window.Clerk) {
      mount.innerHTML = "";
      var p = document.createElement("p");
      p.className = "alert alert--error";
      p.textContent = mount.getAttribute("data-failed");
      mount.appendChild(p);
      return;
    }
    window.Clerk.load().then(function () {
      var clerk = window.Clerk;
      var signOut = mount.getAttribute("data-signed-out") === "true" && clerk.user
        ? clerk.signOut() : Promise.resolve();
      return signOut.then(function () {
        mount.innerHTML = "";
        if (clerk.user && clerk.organization) {
          window.location.assign(next);
        } else if (clerk.user) {
          var hint = document.createElement("p");
          hint.textContent = mount.getAttribute("data-choose-org");
          mount.appendChild(hint);
          var list = document.createElement("div");
          mount.appendChild(list);
          clerk.mountOrganizationList(list, {
            hidePersonal: true,
            afterSelectOrganizationUrl: next,
            afterCreateOrganizationUrl: next
          });
        } else {
          clerk.mountSignIn(mount, { forceRedirectUrl: next, signUpForceRedirectUrl: next });
        }
      });
    });
  }
  window.addEventListener("load", startClerk);
})();
