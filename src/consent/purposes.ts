// Purposes: W3C Data Privacy Vocabulary (DPV 2.0) purpose concepts, and the controller's
// own purpose ids, each declared with the DPV concept it specialises.
import { ProvenaError } from '../errors.js'
import { consentErrors } from './errors.js'

/** The DPV purpose concepts Provena knows (https://w3id.org/dpv#Purpose and its subclasses). */
export const DPV_PURPOSES: readonly string[] = [
  'dpv:AcademicResearch',
  'dpv:Advertising',
  'dpv:CommercialResearch',
  'dpv:CommunicationManagement',
  'dpv:CustomerManagement',
  'dpv:DirectMarketing',
  'dpv:EnforceSecurity',
  'dpv:FraudPreventionAndDetection',
  'dpv:HumanResourceManagement',
  'dpv:IdentityVerification',
  'dpv:LegalCompliance',
  'dpv:Marketing',
  'dpv:NonCommercialResearch',
  'dpv:OrganisationGovernance',
  'dpv:Personalisation',
  'dpv:PublicBenefit',
  'dpv:ResearchAndDevelopment',
  'dpv:ScientificResearch',
  'dpv:ServiceOptimisation',
  'dpv:ServicePersonalisation',
  'dpv:ServiceProvision',
]

/** A purpose as a consent record holds it: its id and the DPV concept it is (or specialises). */
export interface Purpose {
  id: string
  dpv: string
}

/** The controller's own purposes, from provena.json: id → DPV concept. */
export type OwnPurposes = Record<string, { dpv: string; description?: string }>

/** Resolves a purpose id, or throws CONSENT_UNKNOWN_PURPOSE. */
export function resolvePurpose(id: string, own: OwnPurposes = {}): Purpose {
  if (DPV_PURPOSES.includes(id)) return { id, dpv: id }
  const mine = Object.hasOwn(own, id) ? own[id] : undefined
  if (mine) return { id, dpv: mine.dpv }
  throw consentErrors.unknownPurpose(id)
}

/** Checks a new own purpose: a plain id (not dpv:…), specialising a known DPV concept. */
export function checkOwnPurpose(id: string, dpv: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/.test(id) || id.startsWith('dpv:')) {
    throw new ProvenaError('CONSENT_BAD_PURPOSE_ID', `"${id}" is not a valid own purpose id`, { hint: 'letters, digits and . _ : / - (at most 128), not starting with dpv:' })
  }
  if (!DPV_PURPOSES.includes(dpv)) throw consentErrors.unknownPurpose(dpv)
}
