"use strict";
// The person list follows the site and role picked.
(function () {
  const people = JSON.parse(document.getElementById("people").textContent);
  const site = document.getElementById("site");
  const role = document.getElementById("role");
  const person = document.getElementById("person");
  function fill() {
    const listed = (people[site.value] || {})[role.value] || [];
    person.replaceChildren(
      ...listed.map(([id, name]) => {
        const option = document.createElement("option");
        option.value = id;
        option.textContent = id === name ? id : `${name} (${id})`;
        return option;
      }),
    );
  }
  site.addEventListener("change", fill);
  role.addEventListener("change", fill);
  fill();
})();
