/** Prometheus counters and the job-duration histogram served at /metrics. */
export class Metrics {
  readonly jobs = new Map<string, number>();
  readonly #bucketsS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800];
  readonly #counts = new Array<number>(this.#bucketsS.length).fill(0);
  #sum = 0;
  #count = 0;
  bytesDownloaded = 0;

  /** Records one finished job by RunPod status and its duration. */
  jobFinished(status: string, seconds: number): void {
    this.jobs.set(status, (this.jobs.get(status) ?? 0) + 1);
    this.#sum += seconds;
    this.#count++;
    this.#bucketsS.forEach((bound, i) => {
      if (seconds <= bound) this.#counts[i] = (this.#counts[i] ?? 0) + 1;
    });
  }

  /** Prometheus text exposition; gauges are read at scrape time. */
  render(gauges: { restarts: number; queueDepth: number; inProgress: number; ready: boolean }): string {
    const lines = [
      "# HELP comfy_worker_jobs_total Jobs finished, by status.",
      "# TYPE comfy_worker_jobs_total counter",
      ...[...this.jobs].map(([status, n]) => `comfy_worker_jobs_total{status="${status}"} ${n}`),
      "# HELP comfy_worker_job_duration_seconds Time from start to finish of a job.",
      "# TYPE comfy_worker_job_duration_seconds histogram",
      ...this.#bucketsS.map((bound, i) => `comfy_worker_job_duration_seconds_bucket{le="${bound}"} ${this.#counts[i]}`),
      `comfy_worker_job_duration_seconds_bucket{le="+Inf"} ${this.#count}`,
      `comfy_worker_job_duration_seconds_sum ${this.#sum}`,
      `comfy_worker_job_duration_seconds_count ${this.#count}`,
      "# HELP comfy_worker_comfy_restarts_total ComfyUI restarts since the worker started.",
      "# TYPE comfy_worker_comfy_restarts_total counter",
      `comfy_worker_comfy_restarts_total ${gauges.restarts}`,
      "# HELP comfy_worker_download_bytes_total Bytes of model weights downloaded.",
      "# TYPE comfy_worker_download_bytes_total counter",
      `comfy_worker_download_bytes_total ${this.bytesDownloaded}`,
      "# HELP comfy_worker_queue_depth Jobs waiting to start.",
      "# TYPE comfy_worker_queue_depth gauge",
      `comfy_worker_queue_depth ${gauges.queueDepth}`,
      "# HELP comfy_worker_jobs_in_progress Jobs running now.",
      "# TYPE comfy_worker_jobs_in_progress gauge",
      `comfy_worker_jobs_in_progress ${gauges.inProgress}`,
      "# HELP comfy_worker_ready 1 when the worker takes jobs.",
      "# TYPE comfy_worker_ready gauge",
      `comfy_worker_ready ${gauges.ready ? 1 : 0}`,
    ];
    return `${lines.join("\n")}\n`;
  }
}
