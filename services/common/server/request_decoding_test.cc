// Telling a client which field of its request is not UTF-8.
#include "services/common/server/request_decoding.h"

#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"

namespace cstopa::common {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;

void AddBytes(int field, const std::string& bytes, std::string* out) {
  out->push_back(static_cast<char>((field << 3) | 2));
  out->push_back(static_cast<char>(bytes.size()));
  out->append(bytes);
}

TEST(IsValidUtf8Test, AcceptsWellFormedTextOfEveryLength) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("Рогалев"));              // 2-byte sequences
  EXPECT_TRUE(IsValidUtf8("\xe2\x82\xac"));         // € 3 bytes
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));     // 😀 4 bytes
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));     // U+10FFFF
}

TEST(IsValidUtf8Test, RefusesWhatIsNotUtf8) {
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));                // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));            // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));        // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));        // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));    // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("ok\x80"));              // stray continuation
}

// google.protobuf.FileDescriptorProto is proto2 (no UTF-8 check), so the
// test builds its own proto3 message type.
class InvalidUtf8FieldsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    google::protobuf::FileDescriptorProto file;
    file.set_name("utf8_test.proto");
    file.set_package("t");
    file.set_syntax("proto3");
    auto* inner = file.add_message_type();
    inner->set_name("Inner");
    auto* text = inner->add_field();
    text->set_name("text");
    text->set_number(1);
    text->set_type(google::protobuf::FieldDescriptorProto::TYPE_STRING);
    text->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
    auto* raw = inner->add_field();
    raw->set_name("raw");
    raw->set_number(2);
    raw->set_type(google::protobuf::FieldDescriptorProto::TYPE_BYTES);
    raw->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
    auto* outer = file.add_message_type();
    outer->set_name("Outer");
    auto* name = outer->add_field();
    name->set_name("name");
    name->set_number(1);
    name->set_type(google::protobuf::FieldDescriptorProto::TYPE_STRING);
    name->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
    auto* items = outer->add_field();
    items->set_name("items");
    items->set_number(2);
    items->set_type(google::protobuf::FieldDescriptorProto::TYPE_MESSAGE);
    items->set_type_name(".t.Inner");
    items->set_label(google::protobuf::FieldDescriptorProto::LABEL_REPEATED);
    ASSERT_NE(pool_.BuildFile(file), nullptr);
    outer_ = pool_.FindMessageTypeByName("t.Outer");
  }

  google::protobuf::DescriptorPool pool_;
  const google::protobuf::Descriptor* outer_ = nullptr;
};

TEST_F(InvalidUtf8FieldsTest, NamesNestedAndRepeatedFieldsByPath) {
  std::string good, bad, bytes_only, msg;
  AddBytes(1, "fine", &good);
  AddBytes(1, "bad\xff", &bad);
  AddBytes(2, "\xff\xfe", &bytes_only);  // a bytes field may hold anything
  AddBytes(1, "\xc3\x28", &msg);         // Outer.name
  AddBytes(2, good, &msg);               // items[0]
  AddBytes(2, bad, &msg);                // items[1]
  AddBytes(2, bytes_only, &msg);         // items[2]
  EXPECT_THAT(InvalidUtf8Fields(msg, *outer_),
              ElementsAre(Field(&FieldViolation::field, "name"),
                          Field(&FieldViolation::field, "items[1].text")));
}

TEST_F(InvalidUtf8FieldsTest, WhatIsNotWireFormatIsRefusedAsAWhole) {
  absl::Status s = UndecodableRequest(std::string("\x0a\x7f", 2), *outer_);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("not a valid t.Outer"));
}

}  // namespace
}  // namespace cstopa::common
