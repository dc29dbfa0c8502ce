export type {
  Cache,
  CacheCapabilities,
  CacheGetOrSetOptions,
  CacheLoader,
  CacheSetOptions,
  CacheStats,
} from "./cache.js";
export {
  type ComparisonOperator,
  type DocumentCollection,
  type DocumentData,
  type DocumentDatabase,
  type DocumentDatabaseCapabilities,
  type Filter,
  type FilterCondition,
  type FilterScalar,
  type FindOptions,
  type IndexSpec,
  isFilterCondition,
  type SortField,
  type StoredDocument,
  type UpdateSpec,
  where,
} from "./documents.js";
export {
  cancelledError,
  closedError,
  ERROR_CODES,
  type ErrorCode,
  InfrastructureError,
  type InfrastructureErrorOptions,
  isInfrastructureError,
  type TokenFailureReason,
  throwIfAborted,
  UnauthenticatedError,
} from "./errors.js";
export type { LocalFileInfo, LocalFileManager, SweepOptions, TempFileOptions } from "./local-files.js";
export type {
  GetObjectOptions,
  ListObjectsOptions,
  ListPageOptions,
  ObjectBody,
  ObjectInfo,
  ObjectStorage,
  ObjectStorageCapabilities,
  ObjectSummary,
  PutObjectOptions,
  SignedUrlOptions,
} from "./object-storage.js";
export type {
  GenerateReportOptions,
  ReportColumn,
  ReportColumnType,
  ReportDefinition,
  ReportFormat,
  ReportGenerator,
  ReportGeneratorCapabilities,
  ReportResult,
  ReportRow,
  ReportSheet,
} from "./reports.js";
export type { Closeable, JsonValue, OperationOptions, Page } from "./resources.js";
export {
  mysqlDialect,
  postgresDialect,
  type RenderedSql,
  renderSql,
  type SqlDatabase,
  type SqlDatabaseCapabilities,
  type SqlDialect,
  type SqlExecuteResult,
  type SqlExecutor,
  type SqlInsertManyOptions,
  type SqlIsolationLevel,
  SqlQuery,
  type SqlQueryOptions,
  type SqlStreamOptions,
  type SqlTransaction,
  type SqlTransactionOptions,
  sql,
} from "./sql.js";
export { classifySqlState, type SqlStateClass } from "./sql-errors.js";
export {
  isValidTenantSlug,
  type ListTenantsOptions,
  type NewTenant,
  TENANT_STATUSES,
  type Tenant,
  type TenantChanges,
  type TenantRepository,
  type TenantStatus,
} from "./tenants.js";
export type { Principal, TokenClaims, TokenDecoder, TokenIssuer } from "./tokens.js";
