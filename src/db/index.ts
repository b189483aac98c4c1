export { migrate, openDatabase, type Db } from './openDatabase.js'
export { LATEST_SCHEMA_VERSION } from './migrations.js'
export { insertMany } from './insertMany.js'
