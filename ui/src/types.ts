// Shapes of the REST API's answers (see /openapi.json), as far as the UI reads them.

export type ExecutionStatus = "pending" | "running" | "completed" | "failed" | "cancelled" | "timeout" | "unknown";
export type StepStatus = "pending" | "running" | "completed" | "failed" | "skipped" | "cancelled";
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Page<T> {
  items: T[];
  total: number;
  skip: number;
  limit: number;
}

export interface DayCount {
  day: string;
  executions: number;
  failed: number;
}

export interface WorkflowSummary {
  workflow_id: string;
  name: string;
  description: string | null;
  catalogued: boolean;
  service_name: string | null;
  last_execution_id: string | null;
  last_status: ExecutionStatus | null;
  last_execution_at: string | null;
  running_executions: number;
  pending_executions: number;
  total_executions: number;
  successful_executions: number;
  success_rate: number;
  p50_duration_seconds: number | null;
  p95_duration_seconds: number | null;
  executions_per_day: DayCount[];
}

export interface Overview {
  workflows: WorkflowSummary[];
  days: number;
}

export interface InputSpec {
  type?: string;
  default?: Json;
  required?: boolean;
  description?: string;
}

export interface Workflow {
  id: string;
  name: string;
  description: string | null;
  version: number;
  step_count: number;
  definition: { inputs?: Record<string, InputSpec>; steps?: { id: string; name?: string }[] } & Record<string, Json>;
}

export interface Execution {
  id: string;
  workflow_id: string;
  execution_number: number | null;
  status: ExecutionStatus;
  started_at: string | null;
  completed_at: string | null;
  duration: number | null;
  input_variables: Record<string, Json> | null;
  results: Record<string, Json> | null;
  error_message: string | null;
  created_at: string | null;
  workflow_name: string | null;
}

export interface StepExecution {
  id: string | null;
  step_id: string;
  step_name: string;
  status: StepStatus;
  started_at: string | null;
  completed_at: string | null;
  duration: number | null;
  retry_count: number;
  output_data: Json;
  error_message: string | null;
}

export interface ExecutionDetails extends Execution {
  step_executions: StepExecution[];
  status_history: { status: ExecutionStatus; timestamp: string | null; source: string }[];
  error_type: string | null;
  service_name: string | null;
}

export interface TimelineStep {
  step_id: string;
  step_name: string;
  step_order: number;
  status: StepStatus;
  started_at: string | null;
  completed_at: string | null;
  duration_seconds: number | null;
  retry_count: number;
  error_message: string | null;
  step_execution_id: string | null;
  depends_on: string[];
  attempts: number;
  queue_seconds: number | null;
  run_seconds: number | null;
  wait_seconds: number | null;
  skip_reason: string | null;
  triggered?: string[];
}

/** The span that started an execution (a W3C traceparent sent to execute): its execution and
 * step when that trace is an execution of this workspace, else only the ids. */
export interface TriggeredBy {
  trace_id: string;
  span_id: string;
  execution_id: string | null;
  step_id: string | null;
}

export interface Timeline {
  execution_id: string;
  workflow_id: string;
  status: ExecutionStatus;
  started_at: string | null;
  completed_at: string | null;
  total_duration_seconds: number | null;
  step_count: number;
  completed_step_count: number;
  failed_step_count: number;
  skipped_step_count: number;
  step_timeline: TimelineStep[];
  error_message: string | null;
  workflow_name: string | null;
  execution_number: number | null;
  queued_at: string | null;
  queue_seconds: number | null;
  critical_path: string[];
  triggered_by?: TriggeredBy | null;
}

export interface Attempt {
  attempt: number;
  span_id: string;
  status: string;
  started_at: string | null;
  completed_at: string | null;
  duration: number | null;
  error_message: string | null;
}

export interface ExecutionAttempts {
  execution_id: string;
  steps: { step_id: string; step_execution_id: string | null; attempts: Attempt[] }[];
}

export interface StepDetails extends StepExecution {
  input_data: Json;
  input_truncated: boolean;
  output_truncated: boolean;
  depends_on: string[];
  skip_reason: string | null;
  attempts: Attempt[];
  events: { name: string; timestamp: string | null; attributes: Record<string, Json> }[];
}

export interface LogRecord {
  timestamp: string | null;
  severity_text: string;
  severity_number: number;
  event_name: string | null;
  body: string | null;
  step_id: string | null;
  attributes: Record<string, Json>;
}

export interface Metrics {
  success_rate: number;
  total_executions: number;
  successful_executions: number;
  failed_executions: number;
  cancelled_executions: number;
  average_duration_seconds: number;
  p50_duration_seconds: number | null;
  p95_duration_seconds: number | null;
  running_executions: number;
  pending_executions: number;
}

export interface StepMetrics {
  step_id: string;
  step_name: string;
  runs: number;
  completed: number;
  failed: number;
  skipped: number;
  cancelled: number;
  failure_rate: number;
  retries: number;
  runs_with_retries: number;
  p50_duration_seconds: number | null;
  p95_duration_seconds: number | null;
  share_of_execution_time: number | null;
}

export interface Durations {
  points: {
    execution_id: string;
    execution_number: number | null;
    status: ExecutionStatus;
    started_at: string | null;
    duration_seconds: number | null;
  }[];
  total: number;
}

export interface Workspace {
  id: string;
  slug: string;
  name: string;
}

export interface LiveEvent {
  event: string;
  data: {
    execution_id?: string;
    workflow_id?: string;
    step_id?: string | null;
    status?: string;
    timestamp?: string;
    event_id?: string;
  };
}
