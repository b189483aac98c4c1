export { migrate, openDatabase, type Db } from './openDatabase.js'
export { LATEST_SCHEMA_VERSION, migrations, type Migration } from './migrations.js'
export { insertMany } from './insertMany.js'
export { narrowMode } from './narrowMode.js'
