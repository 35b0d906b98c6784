#include "connectors/saml/xml_signature.h"

#include <libxml/valid.h>
#include <libxml/xmlerror.h>
#include <xmlsec/app.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/keys.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include <array>
#include <mutex>

#include "connectors/saml/strict_xml.h"

namespace keywarden {

namespace {

constexpr std::string_view kExclC14n = "http://www.w3.org/2001/10/xml-exc-c14n#";
constexpr std::string_view kEnveloped = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
constexpr std::array<std::string_view, 6> kSignatureMethods = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",   "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",   "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384", "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"};
constexpr std::array<std::string_view, 3> kDigestMethods = {"http://www.w3.org/2001/04/xmlenc#sha256",
                                                            "http://www.w3.org/2001/04/xmldsig-more#sha384",
                                                            "http://www.w3.org/2001/04/xmlenc#sha512"};

// xmlsec and libxml2 report errors by printing them; a daemon reports
// through its own messages instead.
void ignore_xmlsec_error(const char*, int, const char*, const char*, const char*, int, const char*) {}
void ignore_libxml_error(void*, const xmlError*) {}

void initialize_xmlsec_once() {
  static std::once_flag once;
  static bool ready = false;
  std::call_once(once, [] {
    xmlInitParser();
    ready = xmlSecInit() >= 0 && xmlSecCheckVersion() == 1 && xmlSecCryptoAppInit(nullptr) >= 0 &&
            xmlSecCryptoInit() >= 0;
    xmlSecErrorsSetCallback(ignore_xmlsec_error);
  });
  if (!ready) throw XmlKeyError("xmlsec1 with its OpenSSL backend could not be initialized");
  // libxml2 keeps its error handler per thread.
  thread_local bool silenced = false;
  if (!silenced) {
    xmlSetStructuredErrorFunc(nullptr, reinterpret_cast<xmlStructuredErrorFunc>(ignore_libxml_error));
    silenced = true;
  }
}

XmlSecKey adopt(xmlSecKeyPtr key) {
  return XmlSecKey(key, [](const _xmlSecKey* k) { xmlSecKeyDestroy(const_cast<_xmlSecKey*>(k)); });
}

struct DSigContextDestroy {
  void operator()(xmlSecDSigCtx* ctx) const { xmlSecDSigCtxDestroy(ctx); }
};
using DSigContext = std::unique_ptr<xmlSecDSigCtx, DSigContextDestroy>;

const xmlSecByte* as_bytes(std::string_view s) { return reinterpret_cast<const xmlSecByte*>(s.data()); }

bool one_of(std::string_view value, auto&& allowed) {
  for (std::string_view a : allowed)
    if (value == a) return true;
  return false;
}

// The SignedInfo policy, checked on the tree before xmlsec runs: clear
// reasons, and a second lock beside xmlsec's enabled-transform lists.
std::optional<std::string> check_signed_info(const xmlNode* signature, const std::string& id) {
  const auto signed_infos = children_named(signature, kXmlDsigNs, "SignedInfo");
  if (signed_infos.size() != 1) return "Signature has no single SignedInfo";
  const xmlNode* signed_info = signed_infos[0];
  const auto c14n = children_named(signed_info, kXmlDsigNs, "CanonicalizationMethod");
  if (c14n.size() != 1 || attribute(c14n[0], "Algorithm") != kExclC14n) {
    return "SignedInfo canonicalization is not exclusive c14n";
  }
  const auto method = children_named(signed_info, kXmlDsigNs, "SignatureMethod");
  if (method.size() != 1 || !one_of(attribute(method[0], "Algorithm"), kSignatureMethods)) {
    return "signature algorithm " + (method.empty() ? std::string("(none)") : attribute(method[0], "Algorithm")) +
           " is not allowed (RSA or ECDSA with SHA-256/384/512 only)";
  }
  const auto references = children_named(signed_info, kXmlDsigNs, "Reference");
  if (references.size() != 1) {
    return "SignedInfo has " + std::to_string(references.size()) + " References, exactly one is allowed";
  }
  const xmlNode* reference = references[0];
  if (!has_attribute(reference, "URI") || attribute(reference, "URI") != "#" + id) {
    return "the Reference does not point at the signed element's own ID";
  }
  for (const xmlNode* transforms : children_named(reference, kXmlDsigNs, "Transforms")) {
    for (const xmlNode* transform : child_elements(transforms)) {
      const std::string algorithm = attribute(transform, "Algorithm");
      if (!is_element(transform, kXmlDsigNs, "Transform") || (algorithm != kEnveloped && algorithm != kExclC14n)) {
        return "transform " + algorithm + " is not allowed (enveloped-signature and exclusive c14n only)";
      }
    }
  }
  const auto digest = children_named(reference, kXmlDsigNs, "DigestMethod");
  if (digest.size() != 1 || !one_of(attribute(digest[0], "Algorithm"), kDigestMethods)) {
    return "digest algorithm " + (digest.empty() ? std::string("(none)") : attribute(digest[0], "Algorithm")) +
           " is not allowed (SHA-256/384/512 only)";
  }
  return std::nullopt;
}

bool enable_policy_transforms(xmlSecDSigCtx* ctx) {
  ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
  for (xmlSecTransformId t : {xmlSecTransformEnvelopedId, xmlSecTransformExclC14NId, xmlSecTransformSha256Id,
                              xmlSecTransformSha384Id, xmlSecTransformSha512Id}) {
    if (xmlSecDSigCtxEnableReferenceTransform(ctx, t) < 0) return false;
  }
  for (xmlSecTransformId t : {xmlSecTransformExclC14NId, xmlSecTransformRsaSha256Id, xmlSecTransformRsaSha384Id,
                              xmlSecTransformRsaSha512Id, xmlSecTransformEcdsaSha256Id,
                              xmlSecTransformEcdsaSha384Id, xmlSecTransformEcdsaSha512Id}) {
    if (xmlSecDSigCtxEnableSignatureTransform(ctx, t) < 0) return false;
  }
  return true;
}

}  // namespace

XmlSecKey load_certificate_key(std::string_view der) {
  initialize_xmlsec_once();
  xmlSecKeyPtr key = xmlSecCryptoAppKeyLoadMemory(as_bytes(der), static_cast<xmlSecSize>(der.size()),
                                                  xmlSecKeyDataFormatCertDer, nullptr, nullptr, nullptr);
  if (key == nullptr) throw XmlKeyError("not a certificate with a usable public key");
  return adopt(key);
}

XmlSecKey load_signing_key(std::string_view private_key_pem, std::string_view certificate_pem,
                           const std::string& what) {
  initialize_xmlsec_once();
  xmlSecKeyPtr key = xmlSecCryptoAppKeyLoadMemory(as_bytes(private_key_pem),
                                                  static_cast<xmlSecSize>(private_key_pem.size()),
                                                  xmlSecKeyDataFormatPem, nullptr, nullptr, nullptr);
  if (key == nullptr) throw XmlKeyError(what + ": not a PEM private key (an encrypted key is not supported)");
  XmlSecKey owned = adopt(key);
  if (xmlSecCryptoAppKeyCertLoadMemory(key, as_bytes(certificate_pem), static_cast<xmlSecSize>(certificate_pem.size()),
                                       xmlSecKeyDataFormatPem) < 0) {
    throw XmlKeyError(what + ": the certificate is not a PEM certificate");
  }
  return owned;
}

bool register_id(xmlDoc* doc, xmlAttr* id_attribute) {
  initialize_xmlsec_once();
  xmlChar* value = xmlNodeListGetString(doc, id_attribute->children, 1);
  if (value == nullptr) return false;
  // Taken already (by another element, or by an xml:id the parser saw):
  // xmlAddID would keep the first, which is how duplicate-ID wrapping works.
  const bool taken = xmlGetID(doc, value) != nullptr;
  const bool added = !taken && xmlAddID(nullptr, doc, value, id_attribute) != nullptr;
  xmlFree(value);
  return added;
}

std::optional<std::string> verify_enveloped_signature(xmlDoc* doc, xmlNode* element, const std::string& id,
                                                      const std::vector<XmlSecKey>& trusted) {
  initialize_xmlsec_once();
  const auto signatures = children_named(element, kXmlDsigNs, "Signature");
  if (signatures.empty()) return "no Signature";
  if (signatures.size() > 1) return "more than one Signature";
  xmlNode* signature = signatures[0];
  if (auto problem = check_signed_info(signature, id)) return problem;
  if (trusted.empty()) return "no trusted key";

  std::string problem = "the signature does not verify with any signing key of the IdP metadata";
  for (const XmlSecKey& key : trusted) {
    DSigContext ctx(xmlSecDSigCtxCreate(nullptr));
    if (!ctx) return "xmlsec could not create a signature context";
    // Preset: xmlsec then never reads KeyInfo to find a key.
    ctx->signKey = xmlSecKeyDuplicate(const_cast<_xmlSecKey*>(key.get()));
    if (ctx->signKey == nullptr || !enable_policy_transforms(ctx.get())) return "xmlsec could not prepare the check";
    if (xmlSecDSigCtxVerify(ctx.get(), signature) < 0) {
      problem = "xmlsec could not process the signature";
      continue;
    }
    if (ctx->status != xmlSecDSigStatusSucceeded) continue;
    if (xmlSecPtrListGetSize(&ctx->signedInfoReferences) != 1) return "the verified signature has other than one Reference";
    auto* reference = static_cast<xmlSecDSigReferenceCtxPtr>(xmlSecPtrListGetItem(&ctx->signedInfoReferences, 0));
    if (reference == nullptr || reference->status != xmlSecDSigStatusSucceeded || reference->uri == nullptr ||
        std::string_view(reinterpret_cast<const char*>(reference->uri)) != "#" + id) {
      return "the verified Reference is not the signed element's ID";
    }
    xmlAttr* bound = xmlGetID(doc, reinterpret_cast<const xmlChar*>(id.c_str()));
    if (bound == nullptr || bound->parent != element) return "the signed ID names another element";
    return std::nullopt;
  }
  return problem;
}

void sign_enveloped(xmlDoc* doc, xmlNode* element, const std::string& id, xmlNode* insert_after,
                    const XmlSecKey& key) {
  initialize_xmlsec_once();
  xmlNode* signature = xmlSecTmplSignatureCreateNsPref(doc, xmlSecTransformExclC14NId, xmlSecTransformRsaSha256Id,
                                                       nullptr, reinterpret_cast<const xmlChar*>("ds"));
  if (signature == nullptr) throw XmlKeyError("xmlsec could not create a signature template");
  if (insert_after != nullptr) {
    xmlAddNextSibling(insert_after, signature);
  } else if (element->children != nullptr) {
    xmlAddPrevSibling(element->children, signature);
  } else {
    xmlAddChild(element, signature);
  }
  const std::string uri = "#" + id;
  xmlNode* reference = xmlSecTmplSignatureAddReference(signature, xmlSecTransformSha256Id, nullptr,
                                                       reinterpret_cast<const xmlChar*>(uri.c_str()), nullptr);
  xmlNode* key_info = reference ? xmlSecTmplSignatureEnsureKeyInfo(signature, nullptr) : nullptr;
  if (reference == nullptr || xmlSecTmplReferenceAddTransform(reference, xmlSecTransformEnvelopedId) == nullptr ||
      xmlSecTmplReferenceAddTransform(reference, xmlSecTransformExclC14NId) == nullptr || key_info == nullptr ||
      xmlSecTmplKeyInfoAddX509Data(key_info) == nullptr) {
    throw XmlKeyError("xmlsec could not build the signature template");
  }
  DSigContext ctx(xmlSecDSigCtxCreate(nullptr));
  if (!ctx) throw XmlKeyError("xmlsec could not create a signature context");
  ctx->signKey = xmlSecKeyDuplicate(const_cast<_xmlSecKey*>(key.get()));
  if (ctx->signKey == nullptr || xmlSecDSigCtxSign(ctx.get(), signature) < 0) {
    throw XmlKeyError("xmlsec could not sign the query");
  }
}

}  // namespace keywarden
