// The add-in's CRM schema (CRM_API A11): the `kam` property group, the company properties the
// add-in writes and kam_task_key on tasks, as definitions compared against what the portal has.
#ifndef KAM_HUBSPOT_SRC_PROVISION_H_
#define KAM_HUBSPOT_SRC_PROVISION_H_

#include <string>
#include <vector>

#include "codec.h"
#include "kam/hubspot/types.h"

namespace kam::hubspot::internal {

struct PropertyDef {
  std::string object_type;  // companies, tasks
  std::string name;
  std::string label;
  std::string type;        // number, string, enumeration, datetime
  std::string field_type;  // number, text, textarea, select, date
  std::string description;
  std::vector<TierOption> options;  // enumerations
  bool unique = false;
  bool hidden = false;  // not shown on forms and record pages (kam_card_json: the card reads it)
};

std::vector<PropertyDef> DesiredProperties(const ProvisionSpec& spec);
Json PropertyCreateBody(const PropertyDef& def);

// Compares an existing property (GET /properties answer) with the definition. Returns the
// outcome (kUnchanged, kConflict, or kUpdated meaning "options must be added") and a detail;
// `missing_options` gets the tier options the property lacks.
ProvisionItem::Outcome CompareProperty(const PropertyDef& def, const Json& existing,
                                       std::string* detail, std::vector<TierOption>* missing);

}  // namespace kam::hubspot::internal

#endif  // KAM_HUBSPOT_SRC_PROVISION_H_
