import { ProvenaError } from '../errors.js'

export const consentErrors = {
  unknownPurpose: (purpose: string) =>
    new ProvenaError('CONSENT_UNKNOWN_PURPOSE', `unknown purpose "${purpose}": not a W3C DPV purpose concept, nor one of this data dir's own purposes`, {
      hint: 'use a DPV concept such as dpv:ScientificResearch, or declare your own: provena consent purpose add ID --dpv dpv:ResearchAndDevelopment',
    }),
  expiryInPast: (at: string, where = '--expires') => new ProvenaError('CONSENT_EXPIRY_IN_PAST', `${where} ${at} is not in the future`),
  expiryNotAllowed: (state: string) => new ProvenaError('CONSENT_EXPIRY_NOT_ALLOWED', `a consent ${state === 'withdrawn' ? 'withdrawal' : 'refusal'} has no expiry: only given consent expires`),
  badTime: (text: string, where: string) => new ProvenaError('CONSENT_BAD_TIME', `${where} "${text}" is not an ISO 8601 time`, { hint: 'e.g. 2027-06-30T00:00:00Z' }),
  badLine: (file: string, line: number, message: string, field?: string) =>
    new ProvenaError('CONSENT_BAD_LINE', `${file}:${line}: ${field ? `${field}: ` : ''}${message}`, { hint: 'nothing of the file was applied; fix the line and import it again', details: { file, line, field } }),
  conflict: (what: string) => new ProvenaError('CONSENT_CONFLICT', what, { hint: 'one change per subject and purpose in a batch: nothing was applied' }),
  badSignature: (what: string) => new ProvenaError('CONSENT_BAD_SIGNATURE', what),
  nothingToWithdraw: (subject: string, purpose: string) =>
    new ProvenaError('CONSENT_NOTHING_TO_WITHDRAW', `subject "${subject}" has no consent for ${purpose} to withdraw`),
  notImported: (dataset: string) =>
    new ProvenaError('CONSENT_NO_SUBJECTS', `dataset ${dataset.slice(0, 12)} was registered in clear: Provena does not know whose each record is`, {
      hint: 'import it with its subject column (provena dataset import FILE --subject-column COL --as CONTROLLER)',
    }),
  manifestInvalid: (problems: string[]) =>
    new ProvenaError('CONSENT_MANIFEST_INVALID', `the manifest does not verify: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`, { details: { problems } }),
  badTerms: (field: string, what: string) =>
    new ProvenaError('CONSENT_BAD_TERMS', `provena.json: consentTerms.${field} ${what}`, {
      hint: 'consentTerms: {notice: URL, language: BCP 47 tag, storage: {location: [IRI], duration: ISO 8601 duration}, jurisdiction: [IRI], recipients: [IRI], withdrawalMethod: text}',
      details: { field },
    }),
  notAnchored: (what: string) => new ProvenaError('CONSENT_NOT_ANCHORED', what, { hint: 'anchor the log first: provena log checkpoint' }),
}
