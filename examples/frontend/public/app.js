// The browser side: it talks only to this example's server (no token here), and follows a run
// with EventSource on the server's /api/runs/{id}/events, which relays the portal's events.
const $ = (id) => document.getElementById(id);
let environmentId;

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error?.message ?? `HTTP ${response.status}`);
  return answer;
}

function follow(runId, label) {
  return new Promise((resolve) => {
    $("title").textContent = label;
    const events = new EventSource(`/api/runs/${runId}/events`);
    const show = (run) => {
      $("bar").value = run.progress_percent;
      const step = run.steps.find((candidate) => candidate.name === run.current_step);
      $("step").textContent = `${run.status}${step ? `: ${step.label}` : ""} (${run.progress_percent}%)`;
    };
    events.addEventListener("run", (event) => show(JSON.parse(event.data)));
    events.addEventListener("end", (event) => {
      events.close();
      const run = JSON.parse(event.data);
      show(run);
      resolve(run);
    });
    events.addEventListener("failure", (event) => {
      events.close();
      showError(JSON.parse(event.data).message);
      resolve(undefined);
    });
  });
}

async function loadSites() {
  const page = await call("GET", "/api/sites");
  for (const site of page.results) {
    $("site").append(new Option(site.name, site.slug));
  }
}

$("create").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  $("ready").hidden = $("delete").hidden = true;
  try {
    const { environment, run } = await call("POST", "/api/environments", {
      site: $("site").value,
      name: $("name").value,
      personal_data_acknowledged: $("acknowledged").checked,
      request_id: crypto.randomUUID(),
    });
    environmentId = environment.id;
    $("progress").hidden = false;
    const ended = await follow(run.id, `Creating ${environment.name}`);
    if (ended?.status === "succeeded") {
      $("open").href = ended.staging_url;
      $("open").textContent = `Open ${environment.name}`;
      $("ready").hidden = $("delete").hidden = false;
    } else if (ended) {
      showError(ended.error?.message ?? `The copy ended ${ended.status}.`);
    }
  } catch (error) {
    showError(error.message);
  }
});

$("delete").addEventListener("click", async () => {
  showError("");
  $("ready").hidden = $("delete").hidden = true;
  try {
    const { run } = await call("DELETE", `/api/environments/${environmentId}`);
    const ended = await follow(run.id, "Deleting the staging copy");
    if (ended?.status === "succeeded") $("step").textContent = "Deleted.";
  } catch (error) {
    showError(error.message);
  }
});

loadSites().catch((error) => showError(error.message));
