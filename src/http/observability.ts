/**
 * The metrics and the dashboard, built over one view of the daemon: what app.ts wires in — the
 * controller events they hear, and the HTTP handlers for /metrics, / and /events.
 */
import type { Clock } from "../clock.js";
import type { ControllerEvent } from "../controller.js";
import { Dashboard } from "./dashboard.js";
import { DASHBOARD_CSP, DASHBOARD_HTML } from "./dashboard-page.js";
import type { DaemonView } from "./daemon-view.js";
import { createMetrics, type Metrics } from "./metrics.js";
import type { HttpHandlers } from "./server.js";

export interface Observability {
  readonly metrics: Metrics;
  readonly dashboard: Dashboard;
  /** Hand every controller event to both. */
  readonly observe: (e: ControllerEvent) => void;
  /** The HTTP server's handlers for GET /metrics, GET / and GET /events. */
  readonly handlers: Required<Pick<HttpHandlers, "metrics" | "page" | "events">>;
}

export function createObservability(view: DaemonView, clock: Clock): Observability {
  const metrics = createMetrics(view);
  const dashboard = new Dashboard({ view, clock });
  return {
    metrics,
    dashboard,
    observe: (e) => {
      // Neither breaks the loop nor the other.
      try {
        metrics.observe(e);
      } catch {
        /* a histogram that refuses a value leaves the dashboard alone */
      }
      dashboard.observe(e);
    },
    handlers: {
      metrics: async () => ({ contentType: metrics.contentType, text: await metrics.render() }),
      page: { html: DASHBOARD_HTML, csp: DASHBOARD_CSP },
      events: (req, res) => dashboard.serve(req, res),
    },
  };
}
