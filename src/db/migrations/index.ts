// Every migration, in the order it must run. Migrations are TypeScript string constants rather
// than .sql files because tsc does not copy .sql into dist/, and the compiled app must carry them.
import * as m001 from "./001_core.js";
import * as m002 from "./002_task_events.js";
import * as m003 from "./003_model_summary_json.js";
import * as m004 from "./004_webhooks.js";
import * as m005 from "./005_slot_release.js";
import * as m006 from "./006_progress.js";
import * as m007 from "./007_retries.js";
import * as m010 from "./010_retention_indexes.js";
import * as m011 from "./011_webhook_next_claimable.js";
import * as m012 from "./012_task_tenant.js";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: m001.name, sql: m001.sql },
  { version: 2, name: m002.name, sql: m002.sql },
  { version: 3, name: m003.name, sql: m003.sql },
  { version: 4, name: m004.name, sql: m004.sql },
  { version: 5, name: m005.name, sql: m005.sql },
  { version: 6, name: m006.name, sql: m006.sql },
  { version: 7, name: m007.name, sql: m007.sql },
  { version: 10, name: m010.name, sql: m010.sql },
  { version: 11, name: m011.name, sql: m011.sql },
  { version: 12, name: m012.name, sql: m012.sql },
];
