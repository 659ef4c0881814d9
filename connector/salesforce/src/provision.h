// The add-in's custom fields (Tooling API CustomField, CRM_API B5) as definitions: the
// Metadata body that creates each one, and the comparison of what describe shows with what
// the add-in needs. Pure, for unit tests.
#ifndef KAM_SALESFORCE_SRC_PROVISION_H_
#define KAM_SALESFORCE_SRC_PROVISION_H_

#include <string>
#include <vector>

#include "codec.h"
#include "kam/salesforce/types.h"

namespace kam::salesforce::internal {

struct FieldDef {
  std::string object;           // describe object: "Account", "Task"
  std::string metadata_object;  // where the field is defined: "Account", "Activity"
  std::string name;             // "KAM_Score__c"
  std::string label;
  std::string metadata_type;      // Tooling type: Number, Picklist, LongTextArea, Text, DateTime
  std::string describe_type;      // what describe shows: double, picklist, textarea, string, ...
  int length = 0;                 // Text / LongTextArea
  int precision = 0, scale = 0;   // Number
  std::vector<TierValue> values;  // Picklist
  bool external_id = false;
  std::string description;
};

// The add-in's six Account fields (when ProvisionSpec::account_fields is empty).
std::vector<FieldSpec> DefaultAccountFields(const ProvisionSpec& spec);
// The Account fields, then KAM_Task_Key__c on Task (Activity).
std::vector<FieldDef> DesiredFields(const ProvisionSpec& spec);

// POST /tooling/sobjects/CustomField body: {"FullName": "Account.KAM_Score__c", "Metadata": {...}}.
Json CustomFieldBody(const FieldDef& def);

// Compares the describe entry of an existing field with the definition: kUnchanged, kConflict
// (another type: never changed), or kUpdated meaning "picklist values must be added"
// (`missing` gets them). `detail` says why.
ProvisionItem::Outcome CompareField(const FieldDef& def, const Json& described, std::string* detail,
                                    std::vector<TierValue>* missing);

// Metadata (as read from GET /tooling/sobjects/CustomField/{id}) with `add` appended to its
// picklist values; existing values are kept as they are (never removed).
Json WithPicklistValues(Json metadata, const std::vector<TierValue>& add);

}  // namespace kam::salesforce::internal

#endif  // KAM_SALESFORCE_SRC_PROVISION_H_
